"""The rules the engine enforces, one or more tests each, as conversations on a fake clock."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from dialogue_driver import Conversation, by_buttons, by_voice, make_people

from assistant.core.clock import FakeClock
from assistant.core.events import (
    End,
    Listen,
    PlayEarcon,
    PromptFinished,
    Say,
    SetLights,
    SpeechHeard,
    StopListening,
)
from assistant.core.ids import SeededIds
from assistant.core.record import Person
from assistant.core.settings import DialogueSettings
from assistant.core.speech import Transcript
from assistant.dialogue import prompts as P
from assistant.dialogue.engine import Engine
from assistant.dialogue.script import load_script, parse_script

GROUP = ["Ann", "Ben", "Cal", "Dee"]


def said_last(talk: Conversation, text: str) -> bool:
    """The device's last words were *text*: in one utterance, or its start (help, a reminder)
    in utterances of its own before the question (each at most 25 words)."""
    return any(" ".join(talk.said[-k:]) == text for k in range(1, 5))


def checkin(**kw: object) -> Conversation:
    """A daily check-in that has reached the mood question."""
    talk = Conversation("daily-checkin", ["Sam"], **kw)  # type: ignore[arg-type]
    talk.run(["yes", "yes"])
    assert talk.listen is not None and talk.listen.step_id == "mood"
    return talk


# ---------------------------------------------------------------- silence


def test_silence_repeats_the_same_words_after_ten_seconds_then_waits_with_reminders() -> None:
    talk = checkin()
    question = talk.last_said
    assert talk.listen is not None and talk.listen.timeout_s >= 10
    n = len(talk.said)
    talk.silence()
    talk.settle()
    assert talk.said[n:] == [question], "repeated with exactly the same words"
    talk.silence()
    talk.settle()
    assert talk.said[n:] == [question, question]
    talk.silence()  # repeats_before_waiting (2) used up: now it waits for a button
    talk.settle()
    assert len(talk.said) == n + 2
    assert talk.listen is None and not talk.ended
    assert talk.lights[-1].status == "idle" and "yes" in talk.lights[-1].buttons

    talk.wait(55)
    assert len(talk.said) == n + 2, "no reminder before reminder_every_s"
    talk.wait(10)
    assert said_last(talk, f"{P.REMINDER} {question}")
    # Hours of silence never end the session; reminders keep coming at the interval.
    talk.wait(3 * 3600)
    reminders = [s for s in talk.said if s.startswith(P.REMINDER)]
    assert 100 <= len(reminders) <= 3 * 3600 / 60 + 2
    assert not talk.ended and not talk.of(End)
    talk.run(["yes"])
    assert talk.record.checkins[0].mood == "good"


def test_silence_counts_afresh_after_the_person_does_something() -> None:
    talk = checkin()
    question = talk.last_said
    talk.run(["silence", "silence", "repeat", "silence", "silence"])
    assert talk.said[-5:] == [question] * 5
    assert talk.listen is not None


def test_wait_is_at_least_the_setting_and_the_persons_own() -> None:
    slow = Person(name="Sam", repeat_after_s=45)
    talk = Conversation("daily-checkin", [slow])
    talk.run(["yes", "yes"])
    assert talk.listen is not None and talk.listen.timeout_s == 45
    talk2 = checkin(settings=DialogueSettings(repeat_after_s=20, repeats_before_waiting=0))
    assert talk2.listen is not None and talk2.listen.timeout_s == 20
    for own, expected in ((12.0, 12.0), (4.0, 10.0)):  # their own, but never under 10 s
        quick = Person(name="Sam", repeat_after_s=own)
        talk3 = Conversation("daily-checkin", [quick], settings=DialogueSettings(repeat_after_s=20))
        talk3.run(["yes", "yes"])
        assert talk3.listen is not None and talk3.listen.timeout_s == expected
    with pytest.raises(ValueError):
        DialogueSettings(repeat_after_s=5)


def test_a_shell_that_gives_up_early_does_not_hurry_the_person() -> None:
    talk = checkin()
    n = len(talk.said)
    talk.clock.advance(3)
    from assistant.dialogue.events import SilenceTimedOut

    actions = talk.send(SilenceTimedOut(3.0))
    assert not any(isinstance(a, Say) for a in actions)
    listens = [a for a in actions if isinstance(a, Listen)]
    assert listens and abs(listens[0].timeout_s - 7.0) < 1e-6
    assert len(talk.said) == n


# ---------------------------------------------------------------- help, repeat, next


def _help_and_repeat_everywhere(name: str, people: list[str], jobs: list[tuple[str, str]]) -> None:
    talk = Conversation(name, people, jobs=jobs)
    helped = 0
    for _ in range(3000):
        talk.settle()
        if talk.ended:
            break
        if talk.listen is not None:
            question = talk.last_said
            n = len(talk.said)
            talk.press("help")
            talk.settle()
            helped += 1
            assert talk.said[n:] != [question]
            assert P.ALWAYS_HELP in " ".join(talk.said[n:])
            talk.press("repeat")
            talk.settle()
            repeated = talk.last_said
            assert question.endswith(repeated), (question, repeated)
        talk.do(by_buttons(talk))
    assert talk.ended and helped >= 4


@pytest.mark.parametrize(
    "name,people,jobs",
    [
        ("daily-checkin", ["Sam"], [("Sam", "water the plants")]),
        ("my-goals", ["Sam"], []),
        ("review", ["Ann", "Ben"], [("Ann", "paint"), ("Ben", "bake")]),
        ("coproduction-group", ["Ann", "Ben"], []),
    ],
)
def test_help_and_repeat_work_at_every_listening_step(
    name: str, people: list[str], jobs: list[tuple[str, str]]
) -> None:
    _help_and_repeat_everywhere(name, people, jobs)


def test_help_and_repeat_work_while_the_device_is_just_talking() -> None:
    talk = Conversation("daily-checkin", ["Sam"])
    greeting = talk.pending
    assert greeting is not None
    talk.barge("repeat")
    assert talk.pending is not None and talk.pending.text == greeting.text
    n = len(talk.said)
    talk.barge("help")
    assert talk.pending is not None
    assert talk.said[n].startswith(P.HELP["say"])
    assert talk.pending.text.endswith(greeting.text)
    talk.barge("next")  # moves on
    assert talk.pending is not None and talk.pending.text == P.ROSTER_INTRO_ONE


def test_help_explains_the_scale_and_reads_its_points_once() -> None:
    talk = checkin()
    n = len(talk.said)
    talk.press("help")
    talk.settle()
    helped = " ".join(talk.said[n:])
    assert P.HELP["scale"] in helped
    for words in ("For good, press green.", "For not good, press red.", P.SCALE_NEXT):
        assert helped.count(words) == 1, "the points are read once, not twice in two orders"
    assert "press yellow" not in helped.replace(P.SCALE_NEXT, "")


def test_holding_help_flags_for_staff_and_says_so() -> None:
    talk = checkin()
    question = talk.last_said
    talk.press("help", held=True)
    talk.settle()
    assert said_last(talk, f"{P.HELD_HELP} {question}")
    flags = [f for f in talk.record.flags if f.kind == "needs_a_person"]
    assert len(flags) == 1 and flags[0].person_id == talk.person("Sam").id
    assert any(f.kind == "needs_a_person" for f in talk.saves[-1].record.flags)


def test_holding_next_repeats() -> None:
    talk = checkin()
    question = talk.last_said
    talk.press("next", held=True)
    talk.settle()
    assert talk.last_said == question
    assert talk.record.checkins == []


def test_next_skips_a_free_question_and_a_pass_is_kept() -> None:
    talk = checkin()
    talk.run(["yes", "pass"])  # mood good; no jobs; pass the "anything to tell" question
    news = talk.answers("Sam", "news")
    assert len(news) == 1 and news[0].passed
    assert talk.ended


# ---------------------------------------------------------------- barge-in


def test_barge_in_press_is_acted_on_at_once() -> None:
    talk = Conversation("daily-checkin", ["Sam"], consent=None)
    talk.do("yes")  # Sam
    consent_say = talk.until("keep a recording")
    n_listens = len(talk.of(Listen))
    talk.barge("no")
    assert len(talk.of(Listen)) == n_listens, "no listening for a prompt that was cut off"
    assert talk.person("Sam").consent is not None
    assert talk.person("Sam").consent.audio is False  # type: ignore[union-attr]
    # A late PromptFinished for the stopped prompt is ignored.
    before = len(talk.actions)
    talk.send(PromptFinished(consent_say.prompt_id))
    assert len(talk.actions) == before
    talk.settle()
    assert talk.listen is not None and talk.listen.step_id == "mood"


def test_barge_in_with_a_button_that_means_nothing_says_the_words_again() -> None:
    talk = Conversation("my-goals", ["Sam"])
    talk.do("yes")
    talk.settle()
    talk.do("yes")
    question = talk.until("why are you here")
    talk.barge("yes")  # a free question: yes means nothing there
    assert talk.pending is not None and talk.pending.text == question.text
    assert talk.pending.prompt_id != question.prompt_id


# ---------------------------------------------------------------- not understood


def test_speech_not_understood_is_never_a_guess() -> None:
    talk = checkin()
    question = talk.last_said
    talk.say("banana")
    talk.settle()
    assert said_last(talk, f"{P.NOT_CAUGHT} {question}")
    talk.say("not good", confidence=0.3)  # the right words, but not confidently heard
    talk.settle()
    assert said_last(talk, f"{P.NOT_CAUGHT} {question}")
    assert talk.record.checkins == [] and talk.answers("Sam", "mood") == []
    # A short answer the recogniser was not sure of (answer None) is not taken either.
    listen = talk.listen
    assert listen is not None
    talk.send(SpeechHeard(Transcript("yes", 0.4, "fake", answer=None)))
    talk.settle()
    assert said_last(talk, f"{P.NOT_CAUGHT} {question}")
    talk.say("not good")
    talk.say("yes")  # "You said: not good. Is that right?"
    assert talk.record.checkins[0].mood == "not_good"


def test_polite_words_around_a_point_are_understood_but_nothing_else_is() -> None:
    talk = checkin()
    question = talk.last_said
    for said in ("Not good and okay.", "Not good or good, please."):  # two points: never a guess
        talk.say(said)
        talk.settle()
        assert said_last(talk, f"{P.NOT_CAUGHT} {question}"), said
    talk.say("I think not good, thank you.")
    talk.say("yes")  # "You said: not good. Is that right?"
    assert talk.record.checkins[0].mood == "not_good"


def test_a_spoken_yes_is_not_a_point_on_a_scale() -> None:
    talk = checkin()
    question = talk.last_said
    talk.say("yes")
    talk.settle()
    # heard clearly, but a scale takes its own answers: asked to choose, not "didn't catch"
    assert said_last(talk, f"{P.PICK_ONE} {question}")
    assert talk.record.checkins == [] and talk.answers("Sam", "mood") == []
    talk.say("no", confidence=0.3)  # not clearly heard: not caught, as before
    talk.settle()
    assert said_last(talk, f"{P.NOT_CAUGHT} {question}")
    talk.say("not good")
    talk.say("yes")  # "You said: not good. Is that right?"
    assert talk.record.checkins[0].mood == "not_good"


# ---------------------------------------------------------------- feedback: words, sounds, lights


def test_says_what_it_is_doing_with_earcons_and_status_lights() -> None:
    talk = Conversation("my-goals", ["Sam"])
    talk.complete(by_voice)
    listens = [i for i, a in enumerate(talk.actions) if isinstance(a, Listen)]
    assert listens
    for i in listens:
        before = talk.actions[max(0, i - 2) : i]
        assert PlayEarcon("listening") in before or isinstance(talk.actions[i - 1], Listen)
        lights = [a for a in talk.actions[:i] if isinstance(a, SetLights)][-1]
        assert lights.status == "listening"
    # Every listen comes straight after words ending "I'm listening now.".
    for i in listens:
        said = [a for a in talk.actions[:i] if isinstance(a, Say)][-1].text
        assert said.endswith(P.LISTENING), said
    # Speech heard: the done sound and "thinking".
    for i, a in enumerate(talk.actions):
        if isinstance(a, Say):
            lights = [x for x in talk.actions[:i] if isinstance(x, SetLights)][-1]
            assert lights.status == "speaking"
    assert talk.earcons.count("done_listening") >= len(listens) - 1
    assert "celebrate" in talk.earcons


def test_a_press_while_listening_stops_listening_with_the_done_sound() -> None:
    talk = checkin()
    talk.press("yes")
    i = next(i for i, a in enumerate(talk.actions) if isinstance(a, StopListening))
    assert talk.actions[i + 1] == PlayEarcon("done_listening")


def test_only_the_buttons_that_mean_something_are_lit() -> None:
    talk = checkin()
    assert talk.lights[-1].buttons == {"yes", "next", "no", "help", "repeat"}  # a scale
    talk.run(["yes"])
    talk.settle()
    assert talk.listen is not None and talk.listen.role == "free"
    # a free answer: yellow for its choices, red to pass
    assert talk.lights[-1].buttons == {"next", "no", "help", "repeat"}
    assert talk.lights[-1].status == "listening"
    talk.say("the hens laid eggs")
    talk.settle()
    assert talk.lights[-1].buttons == {"yes", "no", "next", "help", "repeat"}  # read-back
    greeting = Conversation("daily-checkin", ["Sam"])
    assert greeting.lights[0].buttons == {"next", "help", "repeat"}  # just talking
    assert greeting.lights[0].status == "speaking"


def test_red_at_an_open_question_passes_in_one_press() -> None:
    talk = Conversation("my-goals", ["Sam"])
    talk.run(["yes", "yes"])
    assert talk.listen is not None and talk.listen.role == "free"
    question = talk.listen.step_id
    talk.press("no")  # at a free question: nothing to say now
    talk.settle()
    assert any(s.startswith((P.PASSED, P.PASSED_FINAL)) for s in talk.said[-3:]), talk.said[-3:]
    kept = [a for a in talk.record.answers if a.step_id == question]
    assert len(kept) == 1 and kept[0].passed and kept[0].confirmed_by == "not_confirmed"
    assert "Nothing to say? Press red." in P.HELP["ask"]  # said in the help


def test_red_at_a_choice_is_not_this_one() -> None:
    talk = Conversation("daily-checkin", ["Sam"])
    talk.run(["yes", "yes", "yes", "next"])  # who, consent, mood; yellow at the news question
    assert talk.last_said.startswith("Something good happened.")
    talk.press("no")
    talk.settle()
    assert talk.last_said.startswith("Something went wrong.")  # the next one, nothing chosen
    assert not [a for a in talk.record.answers if a.step_id == "news" and a.kind == "choice"]


# ---------------------------------------------------------------- acquiescence and options


def test_preferences_are_never_asked_with_yes_or_no() -> None:
    talk = Conversation("coproduction-group", GROUP)
    talk.complete(by_voice)
    ratings = [a for a in talk.of(Listen) if a.step_id == "rating"]
    assert len(ratings) == 4 * 4
    for listen in ratings:
        assert "yes" not in listen.allowed and "no" not in listen.allowed
        assert "like" in listen.phrases and "not sure" in listen.phrases
    rated = [a for a in talk.record.answers if a.step_id.startswith("rating/")]
    assert {a.value for a in rated} <= {"like", "not_sure", "dont_like"}
    assert all(a.kind == "scale" for a in rated)


def test_option_order_varies_between_people() -> None:
    talk = Conversation("coproduction-group", GROUP, seed=3)
    talk.complete(by_buttons_with_ideas)
    # The order the three points are read in, for each rating question.
    orders = set()
    idea_orders = []
    current: list[str] = []
    for text in talk.said:
        if text.startswith("What do you think of "):
            orders.add(tuple(text.split("For ")[1:]))
            current.append(text.split("?")[0])
        elif text.endswith("it's your turn.") and current:
            idea_orders.append(tuple(current))
            current = []
    idea_orders.append(tuple(current))
    assert len(orders) > 1
    assert len(set(idea_orders)) > 1, "ideas come in a different order for different people"


def by_buttons_with_ideas(talk: Conversation) -> str:
    """Buttons, but with spoken ideas so there is something to rate."""
    if talk.listen is not None and talk.listen.role == "free":
        return f"say: idea {len(talk.said)}"
    return by_buttons(talk)


CHOOSE = """
name: lunch
title: Lunch
kind: group
steps:
  - id: round
    type: for_each_person
    steps:
      - id: lunch
        type: choose
        text: "{person}, what shall we have for lunch?"
        options:
          - {value: soup, label: soup}
          - {value: pizza, label: pizza}
          - {value: salad, label: salad}
          - {value: curry, label: curry}
"""


def test_choose_reads_options_one_at_a_time_in_a_varying_order() -> None:
    script = parse_script(CHOOSE, "lunch.yaml")
    talk = Conversation(script, GROUP, seed=1)
    firsts = []
    for _ in GROUP:
        talk.settle()
        options = []
        while "press green. For the next one" in talk.last_said:
            options.append(talk.last_said.split(".")[0])
            if len(options) == 2:
                talk.press("yes")
                break
            talk.press("next")
            talk.settle()
        firsts.append(tuple(options))
    talk.settle()
    assert talk.ended
    assert len(set(firsts)) > 1
    chosen = {talk.person(a).name: v.value for a in GROUP for v in talk.answers(a, "lunch")}
    assert all(v in {"soup", "pizza", "salad", "curry"} for v in chosen.values())


def test_choose_by_saying_an_option_name() -> None:
    script = parse_script(CHOOSE, "lunch.yaml")
    talk = Conversation(script, ["Ann"], seed=1)
    talk.run(["say: curry"])
    assert talk.answers("Ann", "lunch")[0].value == "curry"
    assert talk.answers("Ann", "lunch")[0].confirmed_by == "voice"
    assert P.CHOSE.format(label="curry") in talk.said


# ---------------------------------------------------------------- group fairness


def test_group_of_four_with_passes_asked_again_and_answers_against_the_right_person() -> None:
    talk = Conversation("coproduction-group", GROUP, seed=2)
    first_asked: dict[str, str] = {}
    passed_once: set[str] = set()

    def policy(t: Conversation) -> str:
        listen = t.listen
        if listen is not None and listen.role == "free":
            who = t.engine.current_person_id
            name = next(p.name for p in t.record.people if p.id == who) if who else "group"
            first_asked.setdefault(listen.step_id, name)
            key = (listen.step_id, name)
            if name == "Ben" and listen.step_id == "why_here" and key not in passed_once:
                passed_once.add(key)  # type: ignore[arg-type]
                return "pass"
            return f"say: {name} answers {listen.step_id}"
        return by_buttons(t)

    talk.complete(policy)
    # Ben passed, and was asked again at the end of that round, before the next question.
    said = talk.said
    again = said.index(P.ASKED_AGAIN.format(person="Ben"))
    assert again < next(i for i, s in enumerate(said) if "what do you want to do" in s)
    ben_why = talk.answers("Ben", "why_here")
    assert ben_why[0].passed and not ben_why[-1].passed
    assert ben_why[-1].supersedes == ben_why[0].id
    # Every free answer is kept against the person whose turn it was.
    for answer in talk.record.answers:
        if answer.kind == "free" and answer.transcript and answer.person_id:
            name = talk.name_of(answer.person_id)
            assert answer.transcript.startswith(f"{name} answers"), answer
    # Turn order rotates between questions.
    assert first_asked["why_here"] != first_asked["want_to_do"]
    assert first_asked["want_to_do"] != first_asked["good_at"]
    # Each person has a job with the support they chose.
    assert {talk.name_of(j.person_id) for j in talk.record.jobs} == set(GROUP)


# ---------------------------------------------------------------- consent


def _group_where(refuses: str | None) -> Conversation:
    talk = Conversation("coproduction-group", ["Ann", "Ben"], consent={"Ann": True, "Ben": True})

    def policy(t: Conversation) -> str:
        if refuses is not None and f"{refuses}, can I keep a recording" in t.last_said:
            return "no"
        if t.listen is not None and t.listen.role == "free":
            return "say: something to say"
        return by_buttons(t)

    talk.complete(policy)
    return talk


def test_in_a_group_voices_are_kept_when_everyone_present_agreed() -> None:
    talk = _group_where(refuses=None)
    kept = {k.answer_id for k in talk.kept}
    by_id = {a.id: a for a in talk.record.answers}
    assert {by_id[k].person_id for k in kept} == {talk.person("Ann").id, talk.person("Ben").id}
    assert not any("words only" in s for s in talk.said)


@pytest.mark.parametrize("refuses", ["Ann", "Ben"])
def test_in_a_group_one_no_keeps_the_words_only_for_everyone(refuses: str) -> None:
    # One microphone hears the room: the voice of someone who said no would be in the others'
    # clips. So no clip at all; each person's words are still kept.
    talk = _group_where(refuses)
    ann, ben = talk.person("Ann"), talk.person("Ben")
    agreed = ben if refuses == "Ann" else ann
    assert agreed.consent is not None and agreed.consent.audio  # their own answer stands
    assert talk.kept == []
    assert [a for a in talk.answers("Ann") if a.transcript]
    assert [a for a in talk.answers("Ben") if a.transcript]
    # what is said is true: nobody hears "I will keep your voice" once someone said no
    consent_said = [s for s in talk.said if "voice" in s and s.startswith(("Thank", "That's"))]
    if refuses == "Ann":  # Ann says no first (Ben had agreed at an earlier session); Ben agrees
        assert consent_said == [
            P.CONSENT_NO_WORDS_ONLY.format(person="Ann"),
            P.CONSENT_YES_WORDS_ONLY.format(person="Ben"),
        ]
    else:  # Ann agreed first (true then); Ben's no changes it for everyone, and says so
        assert consent_said == [
            P.CONSENT_YES.format(person="Ann"),
            P.CONSENT_NO_WORDS_ONLY.format(person="Ben"),
        ]


def test_nobody_has_audio_kept_without_consent() -> None:
    talk = Conversation("my-goals", ["Sam"], consent=None)
    talk.run(["yes", "no"])  # Sam; no to keeping the voice
    talk.complete(by_voice)
    assert talk.kept == []
    assert talk.person("Sam").consent.audio is False  # type: ignore[union-attr]


def test_taking_consent_away_is_one_press_like_giving_it() -> None:
    talk = Conversation("daily-checkin", ["Sam"], consent=True)
    talk.run(["yes", "no"])  # Sam; red at "can I keep a recording of your voice today?"
    talk.settle()
    assert P.CONSENT_NO.format(person="Sam") in talk.said  # at once, not asked a second time
    assert not any(
        "keep a recording" in s
        for s in talk.said[talk.said.index(P.CONSENT_NO.format(person="Sam")) :]
    )
    assert talk.person("Sam").consent.audio is False  # type: ignore[union-attr]
    assert talk.person("Sam").consent.session_id == talk.record.id  # type: ignore[union-attr]
    talk.complete(by_voice)
    assert talk.kept == []


# ---------------------------------------------------------------- flags


@pytest.mark.parametrize("how", ["no", "say: not good"])
def test_mood_not_good_raises_a_flag_and_says_someone_will_be_told(how: str) -> None:
    talk = checkin(facilitator="Jo")
    talk.run([how])
    assert talk.last_said.startswith("You said: not good. Is that right?")
    assert talk.record.flags == [], "checked back before a flag is raised"
    talk.run(["yes"])
    flags = [f for f in talk.record.flags if f.kind == "mood_not_good"]
    assert len(flags) == 1 and flags[0].person_id == talk.person("Sam").id
    mood = talk.answers("Sam", "mood")[-1]
    assert flags[0].answer_id == mood.id and mood.value == "not_good"
    assert any("I will tell Jo" in s for s in talk.said)
    assert talk.record.checkins[0].mood == "not_good"


def test_a_mispressed_red_at_the_mood_question_is_undone_with_no_flag() -> None:
    talk = checkin()
    talk.run(["no"])  # meant green
    assert talk.last_said.startswith("You said: not good. Is that right?")
    talk.run(["no"])
    assert (
        P.TRY_AGAIN in " ".join(talk.said[-2:]) and "How are you feeling today?" in talk.last_said
    )
    talk.run(["yes"])
    assert talk.record.flags == []
    assert talk.record.checkins[0].mood == "good"
    moods = talk.answers("Sam", "mood")
    assert [(a.value, a.rejected) for a in moods] == [("not_good", True), ("good", False)]
    assert "I'm sorry you're not feeling good." not in " ".join(talk.said)


def test_a_flag_answer_rejected_every_time_is_a_pass_with_no_flag() -> None:
    talk = checkin()
    talk.run(["no", "no", "no", "no", "no", "no"])
    assert talk.record.flags == []
    assert talk.record.checkins == [] or talk.record.checkins[0].mood is None
    assert talk.answers("Sam", "mood")[-1].passed


def test_mood_good_raises_no_flag() -> None:
    talk = checkin()
    talk.run(["yes"])
    assert talk.record.flags == []


def test_checkin_jobs_celebrated_and_not_yet_is_fine_and_help_is_flagged() -> None:
    talk = Conversation(
        "daily-checkin",
        ["Sam"],
        jobs=[("Sam", "water the plants"), ("Sam", "sweep the yard")],
        next_meeting="Tuesday",
    )
    talk.run(["yes", "yes", "yes"])  # Sam, consent, mood good
    first = talk.last_said
    job_one = "water the plants" if "water the plants" in first else "sweep the yard"
    talk.run(["yes", "no", "no", "yes"])  # done; not yet; a lot of help, checked back
    assert "celebrate" in talk.earcons
    assert "Not yet is fine." in talk.said
    flags = [f for f in talk.record.flags if f.kind == "asked_for_help"]
    assert len(flags) == 1 and "a lot of help" in flags[0].reason
    statuses = {j.what: j.status for j in talk.record.jobs}
    assert statuses[job_one] == "done"
    assert sorted(statuses.values()) == ["done", "not_yet"]
    assert talk.last_said.startswith("Today. For today, press green.")  # When will you try again?
    talk.run(["say: next week"])
    assert "You chose: Next week." in talk.said
    late = next(j for j in talk.record.jobs if j.status == "not_yet")
    assert late.when == "next week" and late.due is not None
    assert (late.history[-1].status, late.history[-1].when) == ("not_yet", "next week")
    talk.run(["say: I saw a fox", "yes"])
    assert "Remember your next group meeting: Tuesday." in talk.said
    assert talk.ended
    note = talk.record.checkins[0].notes
    assert note and talk.record.answers[-1].id in note


# ---------------------------------------------------------------- read-back


def test_read_back_no_asks_again_and_keeps_the_earlier_answer() -> None:
    talk = Conversation("my-goals", ["Sam"])
    talk.run(["yes", "yes", "say: to make friends"])
    talk.settle()
    assert talk.last_said.startswith("I heard: to make friends. Is that right?")
    talk.run(["no"])
    assert talk.last_said.startswith(P.TRY_AGAIN)
    talk.run(["say: to meet friends", "say: yes"])
    why = talk.answers("Sam", "why_here")
    assert [a.transcript for a in why] == ["to make friends", "to meet friends"]
    assert why[1].supersedes == why[0].id and why[1].confirmed_by == "voice"
    assert why[0].confirmed_by == "not_confirmed"
    # Saved after each answer, and answers only ever grow: nothing deleted.
    sizes = [len(s.record.answers) for s in talk.saves]
    assert sizes == sorted(sizes)


def test_read_back_of_words_ending_in_a_full_stop_has_one_full_stop() -> None:
    talk = Conversation("my-goals", ["Sam"])
    talk.run(["yes", "yes", "say: I want to make friends."])
    talk.settle()
    assert talk.last_said.startswith("I heard: I want to make friends. Is that right?")
    assert ".." not in " ".join(talk.log)


def test_a_twice_rejected_answer_is_not_kept_and_the_person_passes() -> None:
    talk = Conversation("my-goals", ["Sam"])
    talk.run(["yes", "yes", "say: to make french", "no", "say: to mate fronds", "no"])
    assert any(s.startswith(P.NOT_KEPT) for s in talk.said)
    assert P.KEPT_RECORDING not in talk.said
    why = talk.answers("Sam", "why_here")
    assert [a.rejected for a in why] == [True, True, False]
    assert why[-1].passed and why[-1].transcript == "" and why[-1].supersedes == why[1].id
    assert all(a.confirmed_by == "not_confirmed" for a in why)
    talk.settle()
    assert "What do you want to do?" in talk.last_said


def test_a_rejected_answer_is_never_the_idea_goal_or_job_in_a_group() -> None:
    talk = Conversation("coproduction-group", ["Sam", "Ann"])

    def policy(c: Conversation) -> str:
        said = c.last_said
        if "I heard: I want to go rowing" in said:
            return "no"  # Sam says every time that this is not what they said
        if "Sam, what do you want to do?" in said or (
            said.startswith(P.TRY_AGAIN) and "want to do" in said
        ):
            return "say: I want to go rowing"
        if "Ann, what do you want to do?" in said:
            return "say: a picnic"
        if c.listen is not None and c.listen.role == "free":
            return "say: to help"
        if "anyone else" in said or "another" in said:
            return "no"
        return "yes"

    talk.complete(policy)
    assert [i.text for i in talk.record.ideas] == ["a picnic"]
    assert sum(s.startswith(P.NOT_KEPT) for s in talk.said) == 2  # first time and asked again
    assert all("rowing" not in s for s in talk.said if not s.startswith("I heard"))
    assert all("rowing" not in g.text for g in talk.record.goals)
    assert all("rowing" not in j.what for j in talk.record.jobs)
    tries = talk.answers("Sam", "want_to_do")
    assert [a.rejected for a in tries if a.transcript] == [True] * 4
    assert [a.passed for a in tries if not a.transcript] == [True, True]


def test_nothing_heard_twice_keeps_the_recording_when_there_is_one() -> None:
    talk = Conversation("my-goals", ["Sam"], consent=None)
    talk.run(["yes", "yes", "mumble"])  # Sam, yes to keeping the voice
    assert P.NOT_CAUGHT in " ".join(talk.said[-2:])
    talk.run(["mumble"])
    assert P.KEPT_RECORDING in talk.said
    why = talk.answers("Sam", "why_here")[-1]
    assert not why.passed and talk.kept and talk.kept[-1].answer_id == why.id


def test_read_back_by_button_is_confirmed_by_button() -> None:
    talk = Conversation("my-goals", ["Sam"])
    talk.run(["yes", "yes", "say: to make friends", "yes"])
    assert talk.answers("Sam", "why_here")[0].confirmed_by == "button"


# ---------------------------------------------------------------- who is here


def test_a_new_person_records_their_name() -> None:
    talk = Conversation("coproduction-group", ["Ann"])
    talk.run(["yes", "yes", "yes", "say: Robin", "yes", "no"])
    names = [p.name for p in talk.record.people]
    assert names == ["Ann", "Robin"]
    assert "Welcome, Robin." in talk.said
    talk.settle()
    assert "Ann, can I keep a recording" in talk.last_said


def test_an_empty_roster_asks_for_names() -> None:
    talk = Conversation("daily-checkin", [])
    talk.settle()
    assert talk.last_said.startswith(P.SAY_YOUR_NAME)
    talk.run(["say: Kim", "yes"])
    assert [p.name for p in talk.record.people] == ["Kim"]
    assert "Kim, can I keep" in talk.last_said


def test_nobody_pressing_goes_through_the_names_again() -> None:
    talk = Conversation("coproduction-group", ["Ann", "Ben"])
    talk.run(["next", "next", "no"])
    assert P.NOBODY_YET in talk.said
    talk.run(["next", "yes", "yes", "no"])
    assert [p.name for p in talk.record.people] == ["Ben"]


# ---------------------------------------------------------------- goal, plan, review


def test_group_goal_is_the_most_liked_idea_read_back_and_confirmed() -> None:
    talk = Conversation("coproduction-group", ["Ann", "Ben"], seed=5)

    def policy(t: Conversation) -> str:
        listen = t.listen
        said = t.last_said
        if listen is not None and listen.step_id == "want_to_do" and listen.role == "free":
            return "say: go to the seaside" if "Ann" in said else "say: grow vegetables"
        if listen is not None and listen.step_id == "rating":
            return "say: like" if "seaside" in said else "say: not sure"
        return by_buttons(t) if listen is None or listen.role != "free" else "say: ok then"

    talk.complete(policy)
    goal = [g for g in talk.record.goals if g.person_id is None]
    assert len(goal) == 1 and goal[0].text == "go to the seaside" and goal[0].agreed
    assert "More than half of us like go to the seaside." in talk.said
    assert set(goal[0].acceptance) == {p.id for p in talk.record.people}
    ideas = {i.text: i for i in talk.record.ideas}
    assert set(ideas["go to the seaside"].ratings.values()) == {"like"}
    assert all(j.goal_id == goal[0].id for j in talk.record.jobs)
    plan = next(s for s in talk.said if s.startswith(P.PLAN_INTRO))
    assert "The goal is: go to the seaside." in plan


def test_review_celebrates_and_asks_what_we_learned() -> None:
    talk = Conversation("review", ["Ann", "Ben"], jobs=[("Ann", "paint"), ("Ben", "bake")])

    def policy(t: Conversation) -> str:
        listen = t.listen
        if listen is not None and listen.step_id == "how_going":
            return "say: going well" if "paint" in t.last_said else "say: not going well"
        if listen is not None and listen.role == "free":
            return "say: start earlier"
        return by_buttons(t)

    talk.complete(policy)
    status = {j.what: j.status for j in talk.record.jobs[:2]}
    assert status == {"paint": "going_well", "bake": "not_going_well"}
    assert "Well done, Ann!" in talk.said
    lesson = talk.answers("Ben", "in_the_way")
    assert lesson and lesson[-1].transcript == "start earlier"
    new = talk.record.jobs[2]
    assert new.from_job == talk.record.jobs[1].id and new.lesson == lesson[-1].id
    assert new.support is not None


# ---------------------------------------------------------------- resume


def test_resume_carries_on_at_the_first_unanswered_step() -> None:
    first = Conversation("coproduction-group", ["Ann", "Ben"], seed=4)
    for _ in range(200):
        first.settle()
        if first.listen is not None and first.listen.step_id == "want_to_do":
            break
        first.do(by_voice(first))
    saved = first.saves[-1].record
    answered = len(saved.answers)
    people = [p.model_copy() for p in first.people]
    talk = Conversation("coproduction-group", people, record=saved, seed=4)
    talk.settle()
    assert talk.said[0] == P.WELCOME_BACK
    assert "what do you want to do?" in talk.last_said
    assert "keep a recording" not in " ".join(talk.said)
    talk.complete(by_voice)
    assert talk.record.id == saved.id
    assert talk.record.answers[:answered] == saved.answers
    why = [a for a in talk.record.answers if a.step_id == "why_here"]
    assert len(why) == 2


def test_resume_still_asks_a_pass_again_at_the_end_of_the_round() -> None:
    first = Conversation("coproduction-group", ["Ann", "Ben"], seed=4)
    for _ in range(200):
        first.settle()
        listen = first.listen
        if listen is not None and listen.step_id == "why_here" and listen.role == "free":
            if first.answers("Ann", "why_here") or first.answers("Ben", "why_here"):
                break  # the second person's turn: stop here (the power goes off)
            first.do("pass")  # the first person passes
            continue
        first.do(by_voice(first))
    saved = first.saves[-1].record
    passer = next(a.person_id for a in saved.answers if a.step_id == "why_here")
    talk = Conversation("coproduction-group", first.people, record=saved, seed=4)
    talk.complete(by_voice)
    name = talk.name_of(passer)
    assert P.ASKED_AGAIN.format(person=name) in talk.said
    why = [a for a in talk.record.answers if a.step_id == "why_here" and a.person_id == passer]
    assert why[0].passed and not why[-1].passed


# ---------------------------------------------------------------- purity


def test_the_engine_is_pure_and_repeatable() -> None:
    def run() -> list[str]:
        talk = Conversation("coproduction-group", GROUP, seed=9)
        talk.complete(by_voice)
        return talk.said

    assert run() == run()


def test_handle_after_the_end_does_nothing() -> None:
    talk = Conversation("daily-checkin", ["Sam"])
    talk.complete(by_buttons)
    assert talk.engine.handle(PromptFinished(999)) == []
    assert talk.engine.finished


def test_engine_interface_names() -> None:
    script = load_script("daily-checkin")
    engine = Engine(
        script,
        make_people(["Sam"]),
        settings=DialogueSettings(),
        clock=FakeClock(),
        rng=random.Random(1),
    )
    actions = engine.start()
    assert any(isinstance(a, Say) for a in actions)
    assert engine.current_step_id is not None and engine.record.script == "daily-checkin"
    assert not engine.finished and engine.current_person_id is None


def test_the_engine_reads_the_time_from_its_clock_or_a_bare_callable() -> None:
    """A core Clock (its ``time()``), or a callable giving the time (the shell's older clocks)."""
    script = load_script("daily-checkin")
    for clock in (FakeClock(datetime.fromtimestamp(1_000_000.0, UTC)), lambda: 1_000_000.0):
        engine = Engine(script, make_people(["Sam"]), settings=DialogueSettings(), clock=clock)
        assert engine.record.started_at == datetime.fromtimestamp(1_000_000.0, UTC)


def test_every_id_comes_from_the_id_maker() -> None:
    """Seeded ids and a seeded rng: the same session is the same record, ids and all."""

    def record(seed: int) -> dict[str, object]:
        talk = Conversation("coproduction-group", GROUP, seed=seed)
        talk.complete(by_buttons)
        return talk.engine.record.model_dump(mode="json")

    first = record(3)
    assert record(3) == first
    made = SeededIds(3)
    assert first["id"] == made()  # the session's id is the first one made
    assert first != record(4)


# ---------------------------------------------------------------- templates

TEMPLATES = """
name: t
title: T
kind: one_person
steps:
  - id: why
    type: ask
    text: "{person}, why are you here?"
  - type: say
    text: "You said: {answer.why}. {staff} will read it. Braces look like {{this}}."
  - type: say
    only_if: next_meeting
    text: "We meet next: {next_meeting}."
  - type: say
    text: "Goodbye."
"""


@pytest.mark.parametrize("meeting", [None, "Friday"])
def test_templates_fill_in_earlier_answers_names_and_only_if(meeting: str | None) -> None:
    script = parse_script(TEMPLATES, "t.yaml")
    talk = Conversation(script, ["Sam"], next_meeting=meeting)
    talk.run(["say: to learn", "yes"])
    assert talk.said[0] == f"Sam, why are you here? {P.YELLOW_CHOICES} {P.LISTENING}"
    assert "You said: to learn. A member of staff will read it. Braces look like {this}." in (
        talk.said
    )
    assert ("We meet next: Friday." in talk.said) == (meeting == "Friday")
    assert talk.said[-1] == "Goodbye." and talk.ended


def test_an_old_record_without_rejected_still_loads() -> None:
    from assistant.core.record import Answer

    old = {
        "id": "00000000-0000-4000-8000-000000000001",
        "step_id": "why_here",
        "question": "Why?",
        "transcript": "friends",
    }
    assert Answer.model_validate(old).rejected is False


@pytest.mark.parametrize("early", ["yes", "no"])
def test_a_press_before_the_read_back_was_heard_does_not_count(early: str) -> None:
    talk = Conversation("my-goals", ["Sam"])
    talk.run(["yes", "yes"])
    talk.say("to make friends")
    talk.until("I heard: to make friends.")
    talk.barge(early)  # while "I heard: ..." is still being said
    why = talk.answers("Sam", "why_here")
    assert len(why) == 1 and why[0].confirmed_by == "not_confirmed" and not why[0].rejected
    assert talk.pending is not None
    assert said_last(talk, f"{P.HEAR_IT_ALL} {talk.pending.text}")
    assert talk.pending.text.startswith("I heard: to make friends.")
    talk.run(["yes"])  # after it was all said: this counts
    assert talk.answers("Sam", "why_here")[0].confirmed_by == "button"


def test_the_plan_read_back_is_confirmed_only_after_it_was_heard() -> None:
    talk = Conversation("coproduction-group", ["Ann"])
    for _ in range(500):
        if _until_said(talk, "Ann, is that right?"):
            break
        if talk.listen is not None and talk.listen.role == "free":
            talk.do("say: to help")
        elif "anyone else" in talk.last_said or "another" in talk.last_said:
            talk.do("no")
        else:
            talk.do("yes")
    talk.barge("yes")
    assert talk.pending is not None and said_last(talk, f"{P.HEAR_IT_ALL} {talk.pending.text}")
    assert talk.answers("Ann", "plan") == []
    talk.run(["yes"])
    plan = talk.answers("Ann", "plan")
    assert len(plan) == 1 and plan[0].value == "yes"


def _until_said(talk: Conversation, words: str) -> bool:
    """Finish prompts until *words* are being said (True), or the device listens or waits."""
    for _ in range(200):
        if talk.pending is None or talk.ended:
            return False
        if words in talk.pending.text:
            return True
        say, talk.pending = talk.pending, None
        talk.clock.advance(1.0)
        talk.send(PromptFinished(say.prompt_id))
    return False


def test_a_person_who_passed_twice_is_not_asked_again_in_front_of_the_group() -> None:
    talk = Conversation("coproduction-group", ["Sam", "Ann"])

    def policy(c: Conversation) -> str:
        said = c.last_said
        if c.listen is not None and c.listen.role == "free":
            return "pass" if said.startswith("Sam") or "Sam, you passed" in said else "say: ok"
        if "anyone else" in said or "another" in said:
            return "no"
        return "yes"

    talk.complete(policy)
    asked_again = [s for s in talk.said if s.startswith("Sam, you passed before.")]
    assert len(asked_again) == 1, "asked again once, after the first pass only"
    told = [s for s in talk.said if s == P.TELL_LATER.format(person="Sam")]
    assert len(told) == 1, "told once, not at every round"
    assert not any(s.startswith("Ann, you passed before.") for s in talk.said)
    assert sum(a.passed for a in talk.answers("Sam")) >= 4  # staff see every pass


# ---------------------------------------------------------------- a break, and stopping for today


def _to_mood() -> Conversation:
    talk = checkin()
    assert "How are you feeling" in talk.last_said
    return talk


def test_help_again_straight_after_the_help_is_a_break_that_waits_quietly() -> None:
    talk = _to_mood()
    talk.press("help")
    talk.settle()
    assert "or for a break, press help again." in " ".join(talk.said[-3:])
    talk.press("help")
    talk.settle()
    assert talk.last_said == P.BREAK
    said = len(talk.said)
    talk.wait(3600)  # an hour: nothing is said, nothing is decided, nothing ends
    assert len(talk.said) == said and not talk.ended and talk.record.answers[-1].step_id != "mood"
    assert talk.lights[-1].status == "idle" and {"yes", "no"} <= talk.lights[-1].buttons
    talk.press("yes")
    talk.settle()
    assert talk.said[-2:][0].startswith(P.BACK_FROM_BREAK) or talk.last_said.startswith(
        P.BACK_FROM_BREAK
    )
    assert "How are you feeling" in " ".join(talk.said[-2:])
    talk.press("yes")  # the question goes on as before
    talk.settle()
    assert talk.answers("Sam", "mood")[-1].value == "good"


def test_red_in_a_break_stops_for_today_and_keeps_the_session_to_carry_on() -> None:
    talk = _to_mood()
    talk.run(["help", "help"])
    talk.settle()
    assert talk.last_said == P.BREAK
    talk.press("no")
    talk.settle()
    assert talk.last_said == P.STOPPED_FOR_TODAY
    ends = talk.of(End)
    assert ends and ends[-1].reason == "stopped" and talk.engine.stopped
    assert talk.record.state != "finalised"
    assert talk.saves[-1].finished is False
    # carried on later: the answers so far stand, the session goes on from the mood question
    later = Conversation("daily-checkin", talk.people, record=talk.record.model_copy(deep=True))
    later.settle()
    assert later.said[0] == P.WELCOME_BACK and "How are you feeling" in later.last_said


def test_one_help_press_then_something_else_is_no_break() -> None:
    talk = _to_mood()
    talk.press("help")
    talk.press("repeat")
    talk.press("help")
    talk.settle()
    assert P.BREAK not in talk.said


# ---------------------------------------------------------------- the roll call, alone


def test_at_the_roll_call_a_silence_goes_on_to_the_next_name() -> None:
    # Priya alone, who does not know to press yellow at Sam's name, hears her own.
    talk = Conversation("daily-checkin", ["Sam", "Priya"])
    talk.settle()
    assert "If you are Sam" in talk.last_said
    talk.silence()
    talk.settle()
    assert "If you are Priya" in talk.last_said
    talk.run(["yes", "yes"])  # "You are Priya. Is that right?"
    assert [p.name for p in talk.record.people] == ["Priya"]
    assert not talk.record.answers or all(
        a.person_id != talk.person("Sam").id for a in talk.record.answers
    )


def test_the_roll_call_does_not_read_names_round_and_round_to_an_empty_room() -> None:
    talk = Conversation("coproduction-group", ["Sam", "Priya", "Tom"])
    talk.wait(1200)  # twenty minutes, nobody there
    names = [s for s in talk.said if s.startswith(("Sam.", "Priya.", "Tom."))]
    assert len(names) <= 2 * 3 + 2  # once round (and a repeat), then it waits at a name
    assert not talk.record.people
