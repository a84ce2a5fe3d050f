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
    topics: list[str]  # each completes an activity title: the first ones those of each change, in order
    says: list[str]  # what people said, each said once in an organisation's year
    changes: list[tuple[str, str]]  # (title, what the organisation did)
    led_to: list[list[int]]  # for each change, the things said (indices into `says`) that could have led to it


# One block per area: "## area: topic; topic; …" (the topic of each change, in order, then topics of the area at
# large); then each change ("did: title | what we did") followed by what
# people said that led to it ("said: …"); then what people said that no change came of ("also: …").
AREA_TEXT = """
## campaigning: choosing next year's campaign priorities; lobbying local councillors; the petition on {service} funding
did: Waiting times chosen as the lead campaign | Next year's lead campaign is waiting times, told by {people}.
said: Waiting times are what people talk about most; the campaign should lead on that, not on awareness.
said: I waited eleven weeks to be seen; that is the story our campaign should tell.
said: Everyone in my group has a story about waiting; put that first and people will sign up.
did: Lived-experience speakers at the council | We now brief and support anyone who wants to speak to the council.
said: Our stories carry weight with councillors; give us a short briefing and a slot to speak.
said: I would speak at the council meeting if someone went through it with me beforehand.
said: Councillors listen to a person in the room far more than to a report.
also: Please don't use photos of people looking sad; show us getting on with life.
## complaints: how complaints are acknowledged; the comments and complaints leaflet; last year's complaints
did: Complaints acknowledged within three days | Every complaint now gets a reply naming a contact within 3 days.
said: I never heard back after I complained; even a short note saying it arrived would help.
said: Waiting weeks to hear anything about a complaint makes you think nobody read it.
said: Letters about complaints are full of jargon; plain English and a named contact would help.
did: Complaints can be made by phone | The leaflet now says you can complain by phone; a reference is optional.
said: It should be clear that you can complain by phone, not only in writing.
said: The complaints form asks for a reference number most of us don't have.
said: Writing things down is hard for me; I would rather explain on the phone.
also: Tell us what changed because of complaints last year; that would make people trust the process.
## conferences_events: accessible events; travel expenses for events; planning the members' conference
did: Later start and a quiet room | Our events now start at 10:30 and always have a quiet room.
said: Start at 10:30 so people on public transport or with morning routines can get there.
said: Please have a quiet room; a full day in a busy hall is exhausting.
said: A nine o'clock start means leaving home at seven; it rules a lot of us out.
did: Expenses paid within a week | Travel expenses for events are now paid within five working days.
said: Pay travel expenses within a week, not a month later; some of us can't wait that long.
said: I had to borrow money for the train to the conference and waited six weeks to be paid back.
said: The expenses form should be simple, and paid quickly, or people on benefits can't come.
also: Put people with lived experience on the main stage, not only in the breakout rooms.
## fundraising: how we tell supporters' stories; the sponsored walk; the winter fundraising appeal
did: Story sign-off for fundraising | Anyone whose story is used in fundraising now signs it off first.
said: Ask before using anyone's story, and let them see the final version before it goes out.
said: My story was changed in the appeal letter and it didn't sound like me any more.
said: The appeal makes us look helpless; whoever tells their story should approve the words.
did: Accessible route for the sponsored walk | The walk now has a 2 km accessible route with seating on the way.
said: A shorter route would let more of us take part in the sponsored walk.
said: I use a wheelchair and the walk went over fields; a path I can use would let me join in.
said: Benches along the way would help people who need to rest.
also: Supporters should hear what their money changed, like the {service}.
## governance: recruiting a lived-experience trustee; board meetings; the steering group's terms of reference
did: Two lived-experience trustees | The board reserved two trustee places for people with lived experience.
said: Two trustees with lived experience is better than one; one person on their own gets talked over.
said: The board should include people who have used our services, not only professionals.
said: A lived-experience trustee needs someone alongside them who understands what it's like.
did: Board papers a week ahead | Papers now go out a week ahead with a one-page plain English summary.
said: Board papers arrive too late to read; a week ahead with a one-page summary would help.
said: The papers are a hundred pages of jargon; a short summary in plain English would let us take part.
said: I need time to read things more than once before a meeting.
also: Evening board meetings make it hard for people who work or care.
## impact: the outcome survey; the annual impact report; what counts as a good outcome
did: Shorter outcome survey | The outcome survey was cut to five questions, written with {people}.
said: The outcome survey is too long; five questions would get more answers.
said: I gave up on the survey halfway through; it took far too long.
said: Ask about outcomes that matter to us, like feeling less alone, not just how many people were seen.
did: 'You said, we did' in the impact report | The impact report now has a 'you said, we did' page for each area.
said: Tell us afterwards what happened with our feedback; that's the impact we want to hear about.
said: Include people's own words, with permission; figures alone don't show what it's like.
said: The report should show what changed because people spoke up, not only the numbers.
also: Count the people who came back a second time; that says a lot about the {service}.
## involvement: the involvement payment policy; welcoming new panel members; how we involve people in our work
did: Involvement paid at the living wage | Involvement time is now paid at the real living wage, or in vouchers.
said: Paying for involvement time matters; not everyone can afford to volunteer.
said: Some of us would lose benefits if paid in cash; vouchers should be an option.
said: Staff are paid to be at these meetings and we are not; that doesn't feel like partnership.
did: Buddies for new members | New panel members are now offered a buddy and a call before their first meeting.
said: New members need a buddy at their first meeting; walking in alone is hard.
said: A phone call before my first meeting would have stopped me worrying all week.
said: Everyone used initials I didn't know; a buddy could have explained them.
also: We need to know before a meeting what will be decided, not find out on the day.
## media: media training for spokespeople; how the press describes us; speaking to local radio
did: Support for spokespeople | Spokespeople now get training, company at interviews and a check of their quotes.
said: I'd speak to the press if someone came with me and I could check my quotes first.
said: A short guide to what happens in a radio interview would give people confidence.
said: We should be able to say no to a media request without feeling we've let the charity down.
did: Language guide for journalists | Every press release now comes with a short guide to respectful language.
said: Reporters should be told which words to avoid; some headlines last year were hurtful.
said: Words like 'suffering' and 'victim' make us sound helpless; give journalists better ones.
said: A newspaper called me 'a sufferer'; I would like the press to be told how we describe ourselves.
also: Local radio reaches older people who never go online.
## diversity: reaching communities we rarely hear from; translation and interpreting; involving younger {people}
did: Community outreach sessions | Staff now hold monthly sessions at community centres and places of worship.
said: Go to where people already are, like mosques, gurdwaras and community centres.
said: The panel is mostly white and retired; we should say that openly and do something about it.
said: People in my community don't know the charity exists; someone needs to come and talk to us.
did: Translated leaflets and interpreters | Key leaflets are now in Urdu, Polish and Bengali; interpreters on request.
said: Leaflets in Urdu, Polish and Bengali would help a lot of families round here.
said: My mother needed me to interpret at every appointment; a proper interpreter would be better.
said: Our leaflets are only in English, so whole families never hear about us.
also: Younger people won't come to a weekday afternoon meeting; try evenings or online.
## publications: appointment letters; rewriting the {service} leaflet; reviewing the website; the members' newsletter
did: Text reminders before appointments | People now get a text two days before an appointment, as well as a letter.
said: Letters arrive after the appointment date; a text reminder two days before would help.
said: I missed an appointment because the letter came late; a text would have saved it.
said: Most of us read texts straight away, but post can take a week.
did: Plain English leaflet | The leaflet was rewritten in plain English with {people}, in 14 point print.
said: The leaflet says 'service user' everywhere; most of us just say 'people who use the service'.
said: Larger print and fewer pages, please; the booklet is hard to read.
said: I had to read the leaflet three times to understand it; shorter words would help.
also: The website hides the phone number; it should be at the top of every page.
## pr_marketing: promoting the {service}; the charity's new look; our social media posts
did: Posters in GP surgeries | We now put posters and leaflets in GP surgeries and pharmacies across the area.
said: Most people hear about us from their GP; posters in surgeries would reach more people.
said: I only found out about the {service} from a poster at the chemist's.
said: Not everyone is online; put leaflets where people wait, like surgeries.
did: Higher-contrast colours | Our materials now use higher-contrast colours, checked with people with low vision.
said: The new colours are hard to read if you have low vision.
said: Pale grey writing on a white background is almost invisible to me.
said: Check the new look with people who have sight loss before it goes on everything.
also: Social media posts should say what we offer in the first line.
## recruitment: interview panels for new staff; induction for new staff; the involvement lead's job description
did: Lived experience on every interview panel | Every panel for frontline and manager roles now includes {people}.
said: Ask candidates how they would involve people, and have one of us on every panel.
said: Panel members need the questions and scoring guide a few days ahead.
said: The people we hire will work with us, so we should help choose them.
did: Lived experience in staff induction | New staff now spend a session with {people} in their first week.
said: New staff should hear from someone with lived experience in their first week.
said: A new worker once talked about us as if we weren't there; induction should start with our voices.
said: Meeting one of us early would help new staff see the person, not the case.
also: The advert asks for a degree; lived experience should count as well.
## research: setting research priorities; sharing research results; a study's information sheet
did: Life after discharge as a research priority | Support after discharge is now one of our research priorities.
said: Research should look at what helps after discharge; that's when people struggle most.
said: The weeks after leaving hospital were the hardest; nobody seems to study that.
said: Ask people who have been discharged what would have helped them, then research that.
did: Plain English research results | Every study we fund now sends participants a plain English summary.
said: Tell participants what the study found, in plain English, when it ends.
said: I took part in a study two years ago and never heard what came of it.
said: The results came as a journal paper; a one-page summary would have meant something to me.
also: The information sheet is eight pages; one page with a phone number would be enough.
## strategy_policy: the next three-year strategy; our response to the NHS consultation; the safeguarding policy
did: Involvement in the strategy | The new strategy says how people with lived experience shape each of its goals.
said: The strategy should say how people with lived experience will be involved, not only that they will be.
said: Every goal in the strategy should name who was asked and how.
said: Last time the strategy mentioned us once, on the last page; we should run through all of it.
did: People's words in consultation responses | Our responses now quote what people told us, with permission.
said: Our consultation response should include what people told us, in their own words.
said: A quote from someone affected says more to the NHS than a page of statistics.
said: If you speak for us in a consultation, use our words and tell us what you sent.
also: The policy is hard to follow; a one-page version would help people know their rights.
## support: the {service}'s opening hours; peer support groups; the {service}
did: Longer evening hours | The {service} is now open until 10pm on weekdays.
said: The {service} is hard to reach in the evenings, which is when I need it most.
said: Things get worse at night; closing at six leaves us with nobody to call.
said: Plan for evenings and weekends too; problems don't keep office hours.
did: Peer co-facilitators for support groups | Every support group is now co-run by a trained peer facilitator.
said: Peer support groups work best when a peer co-runs them, not only staff.
said: Talking to someone who has been through it helped me more than anything else in the group.
said: I would like to help run a group once I've had some training.
also: Waiting on hold with no idea how long is stressful; tell callers where they are in the queue.
## training: co-delivering volunteer training; the staff e-learning module; training staff in active listening
did: Training co-delivered by {people} | Staff and volunteer training is now co-delivered by {people}, paid.
said: Staff training should include people telling their own stories; that stays with you.
said: Training should cover what it's like to be passed from service to service.
said: I'd help train volunteers if it was paid and I had support to prepare.
did: Face-to-face session after e-learning | The e-learning is now followed by a session led by {people}.
said: The e-learning is a tick-box exercise; a short session with us would teach more.
said: Nobody remembers an online module; people remember a conversation.
said: After the e-learning, staff should have a chance to ask us questions face to face.
also: Volunteers need to know how to end a call kindly when time is up.
"""


def _areas(block: str) -> dict[Area, AreaText]:
    areas = {}
    for chunk in block.split("## ")[1:]:
        head, *lines = chunk.strip().splitlines()
        key, topics = head.split(": ", 1)
        text = AreaText(topics.split("; "), [], [], [])
        for line in lines:
            kind, _, words = line.partition(": ")
            if kind == "did":
                title, did = words.split(" | ")
                text.changes.append((title, did))
                text.led_to.append([])
            elif kind in {"said", "also"}:
                if kind == "said":
                    text.led_to[-1].append(len(text.says))
                text.says.append(words)
        areas[Area(key)] = text
    return areas


AREAS = _areas(AREA_TEXT)
# Said at a session by someone whose reference was mistyped: the record waits for staff (impact.demo, problems).
UNHEARD = (
    "The room was too warm and the session ran over; a break halfway would help.",
    "I'd like the notes of each meeting sent out within a week, with what was agreed.",
    "It would help to have the same facilitator each time, so we don't start again.",
)
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
