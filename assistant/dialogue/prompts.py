"""The fixed words the engine says, in one place.

Plain British English: one idea per sentence, at most about 15 words, the same word for the
same thing ("press green", "press yellow", "press red"; "the help button", "the repeat button"),
the option before the action ("For like, press green."). Scripts hold the questions; these are
the words around them. ``tests/test_script_words.py`` checks the sentence lengths.
"""

from __future__ import annotations

LISTENING = "I'm listening now."
NOT_CAUGHT = "Sorry, I didn't catch that."
PICK_ONE = "Please choose one of these answers."
"""Said before a scale question again when the person clearly said "yes" or "no" to it."""
REMINDER = "I'm still here. Take your time. Press a button when you are ready."
WELCOME_BACK = "Welcome back. Let's carry on."
FINISHED = "That's the end of this session. Thank you."

# Idle: choosing a session (outside a session).
IDLE_INVITE = "Hello. To start a session, press green."
WHICH_SESSION = "Which session would you like?"
SESSIONS_EXPLAIN = "I will say the sessions one at a time. Press green at the one you want."
SESSIONS_NEXT = "For the next one, press yellow."

# Buttons: colour first, the same words everywhere.
PRESS = {"yes": "press green", "next": "press yellow", "no": "press red"}
YES_NO = "For yes, press green. For no, press red."
# Yellow has one meaning everywhere: "next", go on without choosing this. It is said in one of
# these four sentences, always the same words: at a choice ("the next one"), at an open
# question (its choices come next), at a scale (its middle point comes next) and where nothing
# more is offered ("pass").
YELLOW_NEXT = "For the next one, press yellow."
YELLOW_CHOICES = "For choices, press yellow."
TO_PASS = "To pass, press yellow."
TO_MOVE_ON = TO_PASS
"""The old name: at something said, yellow goes on (the same words as passing)."""
YELLOW_MORE = "For more, press yellow."
"""At a scale: the next one is its middle point, offered alone."""
YELLOW_BACK = "To go back one question, press yellow."
"""In a break only: yellow goes back one question."""
YELLOW_WORDS = (YELLOW_NEXT, YELLOW_CHOICES, YELLOW_MORE, TO_PASS, YELLOW_BACK)
"""Every sentence that says what yellow does (a test checks no other is said)."""
ALWAYS_HELP = (
    "To hear it again, press the repeat button. To go back, or for a break, press help again. "
    "For a person, hold the help button."
)
# A break: help pressed again straight after the help. The session waits, quietly, as long as
# it takes; red stops for today (the session is kept, and offered again at the next start).
BREAK = (
    "Okay. A break. I will wait. When you are ready, press green. "
    f"{YELLOW_BACK} To stop for today, press red."
)
GOING_BACK = "Okay. Going back one question."
NOTHING_TO_GO_BACK_TO = "There is no question before this one. Here is the question again."
BACK_FROM_BREAK = "Welcome back. Here is the question again."
STOPPED_FOR_TODAY = "Okay. We will stop for today. Thank you. Next time, we can carry on from here."
BREAK_PROMPTS = (BREAK, BACK_FROM_BREAK, STOPPED_FOR_TODAY, NOTHING_TO_GO_BACK_TO)
MAX_UTTERANCE_WORDS = 25
"""The most words in one thing said before the person can answer (issue 13)."""
PRESS_A_BUTTON = "Please press a button."
HELD_HELP = "I will tell a member of staff that you would like a person to help."
NEED_PERSON_REASON = "Held the help button: would like a person to help."

# Help for each kind of step (said before the step's own help and the question again).
HELP = {
    "say": "I am telling you something. You don't need to answer.",
    "celebrate": "We are celebrating. You don't need to answer.",
    "ask": "Answer in your own words. Start speaking after the sound. Nothing to say? Press red.",
    "read_back": "I want to check that I heard you right.",
    "confirm": "I want to check something with you.",
    "choose": "I say the choices one at a time. Press green at the one you want.",
    "scale": "Choose the answer that fits best. Press a button or say it.",
    "consent": "You choose if I keep your voice. Yes and no are both fine.",
    "who_is_here": "I want to know who is here. Press green when you hear your name.",
    "name": "Please say your name after the sound.",
}

# Read-back.
I_HEARD = "I heard: {text}. Is that right?"
HEAR_IT_ALL = "Please listen to the end. Then press a button."
"""Said before a read-back again when a press came before its words were all said."""
YOU_SAID = "You said: {words}. Is that right?"
"""A scale answer that raises a flag is checked back with this first."""
TRY_AGAIN = "Okay. Let's try again."
KEPT_RECORDING = "Thank you. I have kept your recording. Staff will listen to it."
NO_RECORDING = "Sorry, I still didn't catch that."
"""Said when nothing was heard twice and no recording is kept: the choices come next."""
NOT_KEPT = "Sorry, I got it wrong again. I will not keep it."
NOT_KEPT_AGAIN = "We can come back to it."
NOT_KEPT_ON = "You can tell staff later."
PASSED = "That's fine. We can come back to it."
PASSED_SCALE = "That's fine. You passed."
PASSED_FINAL = "That's fine. Let's move on."
ASKED_AGAIN = "{person}, you passed before. Here is the question again."
TELL_LATER = "{person}, you can tell your supporter later. That's fine."
NOTHING_YET = "nothing yet"

# Choose.
CHOOSE_INTRO = "I will say the choices one at a time. Press green at the one you want."
CHOOSE_OPTION = "{label}. For {label}, press green. For the next one, press yellow."
CHOOSE_LAST = "{label}. For {label}, press green. To pass, press yellow."
"""The last choice at a scale (its middle point): nothing comes after it but passing."""
CHOOSE_ROUND = "That was all of them. To hear them again, press green. To pass, press yellow."
CHOOSE_AGAIN = "Here they are again."
CHOSE = "You chose: {label}."
WITH_SUPPORTER = "My supporter will answer with me"
"""The choice at every open question: the answer is then given with support."""
SUPPORTER_GO = "Okay. {person}, please answer with your supporter."
SUPPORTER_GO_NONAME = "Okay. Please answer with your supporter."
SCALE_NEXT = "For more, press yellow."
SCALE_MIDDLE = "{point}. For {label}, press green. To pass, press yellow."
"""A scale's middle point, offered alone after yellow; yellow here passes."""

# Who is here.
ROSTER_INTRO_GROUP = (
    "Let's see who is here. I will say each name. When you hear your name, press green."
)
ROSTER_INTRO_ONE = "Who are you? I will say each name. When you hear your name, press green."
ROSTER_NAME = "{name}. If you are {name}, press green. For the next one, press yellow."
ROSTER_HELLO = "Hello, {name}."
YOU_ARE = "You are {name}. Is that right?"
ANYONE_ELSE = "Is anyone else here who wants to join in? For yes, press green. For no, press red."
ARE_YOU_NEW = "Are you new here? For yes, press green. For no, press red."
SAY_YOUR_NAME = "Please say your name after the sound."
WELCOME_NEW = "Welcome, {name}."
NOBODY_YET = "I don't know who is here yet. Let's go through the names again."
NEW_PERSON = "the new person"

# Consent.
CONSENT = (
    "{person}, can I keep a recording of your voice today? No is fine too. "
    "For yes, press green. For no, press red."
)
CONSENT_HELP = (
    "A recording helps staff remember your own words. You can change your mind at any time."
)
CONSENT_YES = "Thank you, {person}. I will keep your voice."
CONSENT_NO = "That's fine, {person}. I will not keep your voice."
# In a group one microphone hears the room: voices are kept only when everyone present agreed.
CONSENT_YES_WORDS_ONLY = (
    "Thank you, {person}. Not everyone wants their voice kept. So today I will keep the words only."
)
CONSENT_NO_WORDS_ONLY = (
    "That's fine, {person}. I will not keep your voice. So today I will keep everyone's words only."
)

# Goal.
GOAL_CHOICE = "Most people liked this idea: {idea}. Is this our group's goal?"
GOAL_NEXT_CHOICE = "Then the next idea is: {idea}. Is this our group's goal?"
GOAL_AGREED = "Great. Our goal is: {idea}."
GOAL_NONE = "That's okay. {staff} will help the group choose a goal."
GOAL_NO_IDEAS = "We have no ideas yet. {staff} will help the group choose a goal."
GOAL_NOT_AGREED_REASON = "The group did not agree a goal from its ideas."

# Read back summaries.
IDEAS_INTRO = "Here are the ideas."
IDEA_LINE = "{person} said: {idea}."
NO_IDEAS = "There are no ideas yet."
PLAN_INTRO = "Here is the plan."
GOAL_LINE = "The goal is: {goal}."
MY_GOAL_LINE = "Your goal is: {goal}."
JOB_LINE = "{person} said: {what}."
MY_JOB_LINE = "You said: {what}."
JOB_CHECK = "{person}, is that right?"
"""Each person confirms their own part of the plan read-back."""
WHEN_LINE = "When: {when}."
SUPPORT_LINE = {
    "myself": "By myself.",
    "a_little_help": "A little help.",
    "a_lot_of_help": "A lot of help.",
}
HELPER_LINE = "Help from: {helper}."
HELP_WITH_LINE = "With: {what}."
SHARED_LINE = "{people} will do it too."
HELP_WITH_CHOICES = ("Getting started", "Remembering", "All of it")
SOMEONE = "Someone"
SHARE_NO_JOB = "{person}, you have no job yet."
SHARE_FREE_JOB = "Nobody has this job yet: {what}. Would you like to do it?"
SHARE_WITH = "Would you like to help {owner} with this: {what}?"
SHARE_TAKEN = "Thank you, {person}. Your job is: {what}."
SHARE_JOINED = "Thank you, {person}. You will do this with {owner}."
SHARE_NONE = "That is fine, {person}. You can choose a job later with {staff}."
NOBODY_HAS = "Nobody has this job yet: {what}. Will someone take it?"
WHO_TAKES = "{person}, will you take this job?"
LEFT_FOR_NOW = "That is fine. We will leave it for now."
NEXT_MEETING_LINE = "We meet next: {when}."
IS_THAT_RIGHT = "Is that right? For yes, press green. For no, press red."
PLAN_RIGHT = "Great. Thank you."
PLAN_WRONG = "That's okay. {staff} will help to change it."
PLAN_WRONG_REASON = "A read-back of the {what} was not right; please go through it with them."

# Plan items.
ANOTHER = "Is there another one? For yes, press green. For no, press red."

# How far through (said now and then before a question).
PROGRESS = {2: "Two more questions.", 1: "One more question."}

STAFF = "a member of staff"


# ---------------------------------------------------------------------- the method (issue 14)
# A true agreement: what the ratings say, in plain words; never "most people" unless it is true.
COUNT_WORDS = ("Nobody", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine")
AGREE_INTRO = "Here is what everyone thought of each idea."
AGREE_LIKE = {1: "One person likes {idea}.", 0: "Nobody likes {idea}."}
AGREE_LIKE_MANY = "{n} people like {idea}."
AGREE_NOT_SURE = {1: "One person is not sure."}
AGREE_NOT_SURE_MANY = "{n} people are not sure."
AGREE_DONT_LIKE = {1: "One person does not like it."}
AGREE_DONT_LIKE_MANY = "{n} people do not like it."
AGREE_NOBODY_RATED = "Nobody has said what they think of {idea}."
AGREE_MOST = "More than half of us like {idea}."
AGREE_TOP = "The idea with the most support is: {idea}."
AGREE_TIE = "These ideas have the same support: {ideas}."
AGREE_TIE_CHOOSE = "Which idea shall we talk about first?"
AGREE_NO_SUPPORT = "No idea has enough support yet. That is okay."
AGREE_ALL_DONT_LIKE = "Nobody liked any of the ideas yet. That is okay."
AGREE_WHAT_NEXT = "What shall we do now?"
AGREE_OPTION_AGAIN = "Think about the ideas again"
AGREE_OPTION_NEW = "Share new ideas"
AGREE_OPTION_LATER = "Decide next time"
AGREE_RATE_AGAIN = "What do you think of {idea}?"
AGREE_NEW_IDEA = "{person}, what else could the group do?"
AGREE_LATER = "That is fine. We will choose our goal next time."
AGREE_LATER_REASON = "The group chose to decide its goal next time."
AGREE_ACCEPT_INTRO = (
    "Our idea for a goal is: {idea}. Each person says if they can go along with it."
)
AGREE_ACCEPT = "{person}, can you go along with it?"
AGREE_ACCEPT_HELP = "Yes, not sure and no are all fine answers."
ACCEPT_YES = {1: "One person can go along with it.", 0: "Nobody can go along with it yet."}
ACCEPT_YES_MANY = "{n} people can go along with it."
ACCEPT_NOT_SURE = {1: "One person is not sure."}
ACCEPT_NOT_SURE_MANY = "{n} people are not sure."
ACCEPT_NO = {1: "One person cannot go along with it."}
ACCEPT_NO_MANY = "{n} people cannot go along with it."
ACCEPT_AGREED = "Great. Our goal is: {idea}."
ACCEPT_NOT_ENOUGH = {
    "majority": "Not enough of us can go along with it yet.",
    "everyone": "Not everyone can go along with it yet.",
}
ACCEPT_STAFF = "Thank you. {staff} will look at your answers and decide with you."
ACCEPT_STAFF_REASON = "Staff to decide whether the goal is: {idea}. Each person's answer is kept."
ACCEPT_NO_KEPT = "Thank you, {person}. Your answer is kept."

# Reviewing the goal.
GOAL_REVIEW = "Let's look at our goal: {goal}. How is it going?"
GOAL_REVIEW_NONE = "Let's look at our goal. How is it going?"
GOAL_KEEP = "Keep going"
GOAL_CHANGE = "Change it"
GOAL_DONE = "We did it"
GOAL_KEEP_SAID = "Great. We will keep going."
GOAL_NEW = "What should our new goal be?"
GOAL_DONE_SAID = "Well done, everyone. We reached our goal: {goal}."
GOAL_DONE_NONE = "Well done, everyone. We reached our goal."

# When a new job will be done.
WHEN_CHOOSE = "When will you do it?"
WHEN_TODAY = "Today"
WHEN_THIS_WEEK = "This week"
WHEN_NEXT_WEEK = "Next week"
WHEN_ANOTHER = "Another time"
WHEN_SAY = "When will you do it? Say a day or a date."
NEW_JOB_SAID = "Thank you. That is a new job: {what}."

# Strengths: what a person is good at, kept and offered at planning.
STRENGTH_KEPT = "Thank you, {person}. You said: {strength}."
STRENGTH_OFFER = "{person}, you told us: {strength}."

# The group's own agenda.
AGENDA_INTRO = "Here is our agenda."
AGENDA_LINE = "{person} wants to talk about: {topic}."
AGENDA_EMPTY = "Nobody has added anything yet. That is fine."
AGENDA_FIRST = "First, {person} wants to talk about: {topic}."
AGENDA_NEXT = "Next, {person} wants to talk about: {topic}."
AGENDA_GROUP = "The group"
