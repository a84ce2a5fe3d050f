"""Records that need attention: the organisation's dead letters, and a form to correct and resubmit each.

A dead letter is an event the processors refused, with the expectation it failed and a sentence a staff
member can act on. Staff see their organisation's open ones (not yet corrected), open one, and correct it
in a form generated from the event's stored payload: one labelled field per payload field. The
correction is a new event of the same type whose `corrects` names the dead letter; it is recorded like
any other form's event (once, however often the form is sent) and checked again by the processors,
which mark the dead letter resolved when they have processed it.

Personal fields of a participant's registration are withheld in the stored copy: they start empty and
must be typed again. Another organisation's dead letter is "not found".

`formgen` makes the form from the payload model (no request, no database), `queries` reads the
organisation's dead letters, and `views` holds the blueprint and its pages.
"""

from ingest.problems.views import bp

__all__ = ["bp"]
