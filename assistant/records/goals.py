"""The goals in force: what a later meeting reviews (keep going, change it, or done).

A goal is agreed in a session and kept in its record; a review copies it into its own record
with the status it gave (``keep_going``, ``change``, ``done``), and a changed goal is replaced
by the new one it agreed (``replaces``). So the goals in force are, over every finished
session in time order, the latest copy of each goal, leaving out goals done, changed or
replaced, and group ideas never agreed.
"""

from __future__ import annotations

from collections.abc import Iterable

from assistant.records.model import Goal, SessionRecord

ENDED = ("done", "change")


def current_goals(records: Iterable[SessionRecord]) -> list[Goal]:
    """The goals in force, oldest first (the group's goal is the last agreed one)."""
    latest: dict[str, Goal] = {}
    for record in records:  # in time order: a later copy (a review's) wins
        for goal in record.goals:
            latest.pop(goal.id, None)
            latest[goal.id] = goal
    replaced = {g.replaces for g in latest.values() if g.replaces and g.agreed}
    return [
        g
        for g in latest.values()
        if g.status not in ENDED and g.id not in replaced and (g.agreed or g.person_id)
    ]


def goals_for(goals: Iterable[Goal], people: Iterable[str]) -> list[Goal]:
    """The group's goals, and the own goals of the people given (by id)."""
    ids = set(people)
    return [g for g in goals if g.person_id is None or g.person_id in ids]
