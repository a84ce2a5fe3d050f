"""Staff pages: a form for every kind of involvement, and lists of the organisation's records.

Every page is scoped to the signed-in person's organisation: a record of another organisation is
"not found". A form validates with the same models as the API, shows every problem in an error
summary linked to its field, keeps what was typed, and records each submission once however often
it is sent (its event ids come from a submission id kept in the form).
"""

from ingest.forms import activities, changes, lists, people, saving, search  # noqa: F401  (each adds its routes to `bp`)
from ingest.forms.common import bp

__all__ = ["bp"]
