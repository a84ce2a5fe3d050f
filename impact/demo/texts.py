"""The words of the demo data: names, places, and what people said and what changed, per area."""

from __future__ import annotations

from typing import NamedTuple

from schemas.vocab import Area, ChangeStatus, Level, Region

FIRST = (
    "Amina", "Ben", "Chloe", "Dev", "Ella", "Farah", "Grace", "Harpreet", "Isaac", "Jade", "Kwame", "Laura",
    "Mohammed", "Niamh", "Oluwaseun", "Priya", "Rhys", "Sofia", "Tom", "Yusuf", "Zara", "Aled", "Bronwen",
    "Callum", "Deborah", "Eilidh", "Fatima", "Gareth", "Hannah", "Imran", "Joanne", "Kieran", "Leah", "Marek",
    "Nadia", "Owen", "Patricia", "Rosa", "Siobhan", "Tariq", "Wei", "Agnieszka", "Chidi", "Margaret", "Brian",
    "Sandra", "Delroy", "Sunita", "Graham", "Lucy",
)  # fmt: skip
LAST = (
    "Ahmed", "Bailey", "Begum", "Campbell", "Chen", "Davies", "Evans", "Fernandes", "Green", "Hughes",
    "Hussain", "Jones", "Kaur", "Kowalski", "Lewis", "Mensah", "Morgan", "Murphy", "Nowak", "O'Brien", "Okafor",
    "Patel", "Roberts", "Robinson", "Shah", "Singh", "Smith", "Taylor", "Thomas", "Walker", "Williams",
    "Wilson", "Wright", "Yildiz", "MacDonald", "Clarke", "Adeyemi", "Nguyen", "Jenkins", "Byrne",
)  # fmt: skip
STREETS = ("Oak Road", "Station Street", "Church Lane", "Park Avenue", "Mill Close", "Victoria Terrace", "Elm Grove")
DOMAINS = ("example.org", "example.com", "example.net")
NEIGHBOURS = (Region.north_west, Region.east_midlands, Region.london, Region.south_east, Region.wales)

TITLES = {
    Level.consultation: ("{panel}: {topic}", "{group} focus group on {topic}", "Consultation drop-in: {topic}"),
    Level.co_production: ("Co-production group: {topic}", "Co-design workshop on {topic}"),
    Level.user_led: ("{lead}-led workshop: {topic}", "Peer-led review of {topic}"),
}


class AreaText(NamedTuple):
    topics: list[str]  # each completes an activity title
    says: list[str]  # what people said
    changes: list[tuple[str, str]]  # (title, what the organisation did)


# One block per area: "## area: topic; topic; …", then what people said, then "did: title | what we did".
AREA_TEXT = """
## campaigning: choosing next year's campaign priorities; the petition on {service} funding; lobbying our MP
said: Waiting times are what people talk about most; the campaign should lead on that, not on awareness.
said: Our stories carry weight with councillors; give us a short briefing and a slot to speak.
said: The petition wording is too long; one sentence people can agree with would get more signatures.
said: Please don't use photos of people looking sad; show us getting on with life.
did: Waiting times chosen as the lead campaign | Next year's lead campaign is waiting times, told by {people}.
did: Lived-experience speakers at the council | We now brief and support anyone who wants to speak to the council.
## complaints: how complaints are acknowledged; the comments and complaints leaflet; last year's complaints
said: I never heard back after I complained; even a short note saying it arrived would help.
said: The complaints form asks for a reference number most of us don't have.
said: It should be clear that you can complain by phone, not only in writing.
said: Letters about complaints are full of jargon; plain English and a named contact would help.
did: Complaints acknowledged within three days | Every complaint now gets a reply naming a contact within 3 days.
did: Complaints can be made by phone | The leaflet now says you can complain by phone; a reference is optional.
## conferences_events: planning the members' conference; speakers for the autumn event; accessible events
said: Start at 10:30 so people on public transport or with morning routines can get there.
said: Please have a quiet room; a full day in a busy hall is exhausting.
said: Pay travel expenses within a week, not a month later; some of us can't wait that long.
said: Put people with lived experience on the main stage, not only in the breakout rooms.
did: Later start and a quiet room | Our events now start at 10:30 and always have a quiet room.
did: Expenses paid within a week | Travel expenses for events are now paid within five working days.
## fundraising: the winter fundraising appeal; how we tell supporters' stories; the sponsored walk
said: The appeal makes us look helpless; show what people achieve with support.
said: Ask before using anyone's story, and let them see the final version before it goes out.
said: A shorter route would let more of us take part in the sponsored walk.
said: Supporters should hear what their money changed, like the {service}.
did: Story sign-off for fundraising | Anyone whose story is used in fundraising now signs it off first.
did: Accessible route for the sponsored walk | The walk now has a 2 km accessible route with seating on the way.
## governance: recruiting a lived-experience trustee; the steering group's terms of reference; board meetings
said: Board papers arrive too late to read; a week ahead with a one-page summary would help.
said: Two trustees with lived experience is better than one; one person on their own gets talked over.
said: Evening board meetings make it hard for people who work or care.
said: The steering group should hear what the board did with its advice.
did: Two lived-experience trustees | The board reserved two trustee places for people with lived experience.
did: Board papers a week ahead | Papers now go out a week ahead with a one-page plain English summary.
## impact: measuring the difference the {service} makes; the annual impact report; what counts as a good outcome
said: Ask about outcomes that matter to us, like feeling less alone, not just how many people were seen.
said: The outcome survey is too long; five questions would get more answers.
said: Tell us afterwards what happened with our feedback; that's the impact we want to hear about.
said: Include people's own words, with permission; figures alone don't show what it's like.
did: Shorter outcome survey | The outcome survey was cut to five questions, written with {people}.
did: 'You said, we did' in the impact report | The impact report now has a 'you said, we did' page for each area.
## involvement: how we involve people in our work; the involvement payment policy; welcoming new panel members
said: Paying for involvement time matters; not everyone can afford to volunteer.
said: New members need a buddy at their first meeting; walking in alone is hard.
said: Offer online and in-person options; some of us can't travel and some can't do video calls.
said: We need to know before a meeting what will be decided, not find out on the day.
did: Involvement paid at the living wage | Involvement time is now paid at the real living wage, or in vouchers.
did: Buddies for new members | New panel members are now offered a buddy and a call before their first meeting.
## media: media training for spokespeople; speaking to local radio; writing testimonials
said: I'd speak to the press if someone came with me and I could check my quotes first.
said: Reporters should be told which words to avoid; some headlines last year were hurtful.
said: A short guide to what happens in a radio interview would give people confidence.
said: We should be able to say no to a media request without feeling we've let the charity down.
did: Support for spokespeople | Spokespeople now get training, company at interviews and a check of their quotes.
did: Language guide for journalists | Every press release now comes with a short guide to respectful language.
## diversity: reaching communities we rarely hear from; involving younger {people}; translation and interpreting
said: Go to where people already are, like mosques, gurdwaras and community centres.
said: Leaflets in Urdu, Polish and Bengali would help a lot of families round here.
said: Younger people won't come to a weekday afternoon meeting; try evenings or online.
said: The panel is mostly white and retired; we should say that openly and do something about it.
did: Community outreach sessions | Staff now hold monthly sessions at community centres and places of worship.
did: Translated leaflets and interpreters | Key leaflets are now in Urdu, Polish and Bengali; interpreters on request.
## publications: rewriting the {service} leaflet; reviewing the website; the members' newsletter
said: Letters arrive after the appointment date; a text reminder two days before would help.
said: The leaflet says 'service user' everywhere; most of us just say 'people who use the service'.
said: Larger print and fewer pages, please; the booklet is hard to read.
said: The website hides the phone number; it should be at the top of every page.
did: Text reminders before appointments | People now get a text two days before an appointment, as well as a letter.
did: Plain English leaflet | The leaflet was rewritten in plain English with {people}, in 14 point print.
## pr_marketing: the charity's new look; promoting the {service}; our social media posts
said: Most people hear about us from their GP; posters in surgeries would reach more people.
said: The new colours are hard to read if you have low vision.
said: Social media posts should say what we offer in the first line.
said: Use real photos of our groups, with permission, not stock images.
did: Posters in GP surgeries | We now put posters and leaflets in GP surgeries and pharmacies across the area.
did: Higher-contrast colours | Our materials now use higher-contrast colours, checked with people with low vision.
## recruitment: interview panels for new staff; induction for new staff; the involvement lead's job description
said: Ask candidates how they would involve people, and have one of us on every panel.
said: New staff should hear from someone with lived experience in their first week.
said: The advert asks for a degree; lived experience should count as well.
said: Panel members need the questions and scoring guide a few days ahead.
did: Lived experience on every interview panel | Every panel for frontline and manager roles now includes {people}.
did: Lived experience in staff induction | New staff now spend a session with {people} in their first week.
## research: setting research priorities; a study's information sheet; sharing research results
said: The information sheet is eight pages; one page with a phone number would be enough.
said: Research should look at what helps after discharge; that's when people struggle most.
said: Tell participants what the study found, in plain English, when it ends.
said: Offer home visits or phone interviews for people who can't travel.
did: Life after discharge as a research priority | Support after discharge is now one of our research priorities.
did: Plain English research results | Every study we fund now sends participants a plain English summary.
## strategy_policy: the next three-year strategy; our response to the NHS consultation; the safeguarding policy
said: The strategy should say how people with lived experience will be involved, not only that they will be.
said: Our consultation response should include what people told us, in their own words.
said: The policy is hard to follow; a one-page version would help people know their rights.
said: Plan for evenings and weekends too; problems don't keep office hours.
did: Involvement in the strategy | The new strategy says how people with lived experience shape each of its goals.
did: People's words in consultation responses | Our responses now quote what people told us, with permission.
## support: the {service}; peer support groups; the helpline's opening hours
said: The {service} is hard to reach in the evenings, which is when I need it most.
said: Waiting on hold with no idea how long is stressful; tell callers where they are in the queue.
said: Peer support groups work best when a peer co-runs them, not only staff.
said: After the first call nobody checks in; a follow-up call a week later would help.
did: Longer evening hours | The {service} is now open until 10pm on weekdays.
did: Peer co-facilitators for support groups | Every support group is now co-run by a trained peer facilitator.
## training: training staff in active listening; co-delivering volunteer training; the staff e-learning module
said: Staff training should include people telling their own stories; that stays with you.
said: Volunteers need to know how to end a call kindly when time is up.
said: The e-learning is a tick-box exercise; a short session with us would teach more.
said: Training should cover what it's like to be passed from service to service.
did: Training co-delivered by {people} | Staff and volunteer training is now co-delivered by {people}, paid.
did: Face-to-face session after e-learning | The e-learning is now followed by a session led by {people}.
"""


def _areas(block: str) -> dict[Area, AreaText]:
    areas = {}
    for chunk in block.split("## ")[1:]:
        head, *lines = chunk.strip().splitlines()
        key, topics = head.split(": ", 1)
        says = [line.removeprefix("said: ") for line in lines if line.startswith("said: ")]
        did = [line.removeprefix("did: ").partition(" | ")[::2] for line in lines if line.startswith("did: ")]
        areas[Area(key)] = AreaText(topics.split("; "), says, did)
    return areas


AREAS = _areas(AREA_TEXT)
FOLLOW_UPS = ["", "", "", " Several people at the session agreed.", " This has come up before.", " My family agrees."]
DECLINED = (
    "Thank you for this. Our funding for this work is fixed until next April; we will bring it back then.",
    "We would like to, but the NHS trust sets this policy, not us. We have passed your views on to them.",
    "We tried this for a month, but it meant longer waits for everyone else, so we have stopped for now.",
    "We can't do this safely with the staff we have at the moment; it stays on our plan for next year.",
)
NOTES: dict[ChangeStatus, tuple[str | None, ...]] = {
    ChangeStatus.agreed: ("Agreed by the leadership team.", "Agreed; work starts next month.", None),
    ChangeStatus.implemented: ("Now in place.", "Done, and checked with the panel.", None),
    ChangeStatus.declined: DECLINED,  # declined is always explained
}
