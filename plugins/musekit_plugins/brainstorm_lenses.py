"""The lenses of each brainstorming technique: one angle per engine request, so the
over-generated ideas come from different directions rather than one habit of the model.

Each lens is a short instruction a small model can follow ("Combine: merge it with
something else"). ``expand`` is the set used for "more like #3": ways to develop one
idea rather than to find new ones.
"""

from __future__ import annotations

from typing import Literal

Technique = Literal["free", "scamper", "six-hats", "reverse", "personas", "crazy-eights"]

LENSES: dict[Technique | Literal["expand"], tuple[str, ...]] = {
    "free": (
        "The cheapest way: something that costs almost nothing",
        "A surprising twist: something nobody would expect",
        "With technology: an app, a gadget or a machine",
        "With no technology at all: people, paper and habits",
        "Borrowed from nature: how plants or animals would do it",
        "From another field: how a theatre, a hospital or a farm would do it",
        "At a huge scale: for a whole city or country",
        "Tiny and quick: something one person can start today",
    ),
    "scamper": (
        "Substitute: replace a part, a material or a person",
        "Combine: merge it with something else",
        "Adapt: copy an idea that works somewhere else",
        "Modify: make something bigger, smaller or stronger",
        "Put to another use: use it for a new purpose",
        "Eliminate: remove a part and make it simpler",
        "Reverse: turn it around or do the steps in another order",
    ),
    "six-hats": (
        "White hat: ideas built on facts and numbers",
        "Red hat: ideas from feelings and gut reactions",
        "Black hat: ideas that guard against what could go wrong",
        "Yellow hat: ideas that go for the biggest benefit",
        "Green hat: wild, creative new possibilities",
        "Blue hat: ideas about how to organise and plan it",
    ),
    "reverse": (
        "Worst idea for cost: think of the most wasteful way, then write its opposite",
        "Worst idea for people: think of what would annoy everyone, then write its opposite",
        "Worst idea for time: think of the slowest way, then write its opposite",
        "Worst idea for safety: think of the most dangerous way, then write its opposite",
        "Worst idea for fun: think of the most boring way, then write its opposite",
        "Worst idea for clarity: think of the most confusing way, then write its opposite",
    ),
    "personas": (
        "As a curious child would see it",
        "As an engineer would solve it",
        "As a grandparent would do it",
        "As an artist would imagine it",
        "As a sceptic who wants proof",
        "As a small shop owner with no money to spare",
        "As a nurse on a night shift",
        "As a visitor from another country",
    ),
    "crazy-eights": (
        "The wildest idea you can think of",
        "The silliest idea that might still work",
        "With no money at all",
        "With unlimited money",
        "Done in five minutes",
        "Using only what is already in the room",
        "The smallest possible version",
        "The biggest possible version",
    ),
    "expand": (
        "A cheaper version of this idea",
        "A bigger, bolder version of this idea",
        "A first small step to try this idea",
        "This idea for a different audience",
        "This idea combined with something unexpected",
        "This idea with its biggest weakness fixed",
    ),
}
