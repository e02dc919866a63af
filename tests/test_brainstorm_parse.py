"""Reading ideas out of messy model output: JSON whole, fenced or cut off, and lists."""

from __future__ import annotations

from musekit_plugins.brainstorm_parse import MAX_CHARS, ParsedIdea, clean_idea, parse_ideas


def texts(reply: str) -> list[str]:
    return [idea.text for idea in parse_ideas(reply)]


def test_schema_json_with_likelihoods() -> None:
    reply = (
        '{"ideas": [{"idea": "Bring bike lanes into traffic corridors", "likelihood": 0.1},'
        ' {"idea": "Make bicycles with seats in train stations", "likelihood": 0.3}]}'
    )
    assert parse_ideas(reply) == [
        ParsedIdea("Bring bike lanes into traffic corridors", 0.1),
        ParsedIdea("Make bicycles with seats in train stations", 0.3),
    ]


def test_json_in_a_fence_after_a_preamble_with_strings_or_other_keys() -> None:
    reply = (
        "Sure! Here you go:\n```json\n"
        '{"suggestions": ["Paint the bike racks gold", "Hold a slow-cycling race"]}\n```\n'
        "Enjoy!"
    )
    assert texts(reply) == ["Paint the bike racks gold", "Hold a slow-cycling race"]
    listed = '[{"title": "Bike bus", "description": "a group ride that picks up kids"}]'
    assert texts(listed) == ["Bike bus: a group ride that picks up kids"]


def test_likelihoods_out_of_range_are_dropped_and_percentages_scaled() -> None:
    reply = (
        '{"ideas": [{"idea": "Free tyre pumps at stations", "likelihood": 4.9},'
        ' {"idea": "Lend e-bikes for a week", "probability": 35},'
        ' {"idea": "Cycle-to-work leaderboard in the lobby", "likelihood": "high"}]}'
    )
    assert [idea.likelihood for idea in parse_ideas(reply)] == [0.049, 0.35, None]


def test_json_cut_off_at_the_token_limit_keeps_its_complete_items() -> None:
    reply = (
        '{"ideas": [{"idea": "Bring bike lanes into traffic corridors", "likelihood": 0.1}, '
        '{"idea": "Make \\"bike buses\\" for school runs", "likelihood": 0.2}, {"idea": "Make bic'
    )
    assert parse_ideas(reply) == [
        ParsedIdea("Bring bike lanes into traffic corridors", 0.1),
        ParsedIdea('Make "bike buses" for school runs', 0.2),
    ]
    assert texts('{"ideas": ["Paint the racks gold", "Hold a slow ra') == ["Paint the racks gold"]


def test_markdown_numbered_list_with_preamble_continuations_and_sign_off() -> None:
    reply = """While you're on your merry way, I can suggest a few ideas:

1. **Part-time Cycling:** Instead of driving, bike on two days a week.
   This could be for a shorter commute.

2. **Bike share hubs** - put them at every bus stop (likelihood: 0.2)
3) Eliminate
- Reward the team that cycles most (probability 15%)

I hope these ideas help!"""
    assert parse_ideas(reply) == [
        ParsedIdea(
            "Part-time Cycling: Instead of driving, bike on two days a week. "
            "This could be for a shorter commute."
        ),
        ParsedIdea("Bike share hubs - put them at every bus stop", 0.2),
        ParsedIdea("Reward the team that cycles most", 0.15),
    ]


def test_other_markers_and_headings() -> None:
    reply = """## Ideas
Idea 1: A cargo bike library for the street
• Repair cafés on Saturday mornings
#3. Mark safe routes with painted footprints
**Wild ones:**
(4) Turn the car park into a pump track"""
    assert texts(reply) == [
        "A cargo bike library for the street",
        "Repair cafés on Saturday mornings",
        "Mark safe routes with painted footprints",
        "Turn the car park into a pump track",
    ]


def test_plain_lines_without_markers_are_ideas_but_chatter_is_not() -> None:
    reply = (
        "Here are some ideas:\nUse {braces} in the bike shop sign\n\n"
        "Another idea right here\nLet me know if you want more."
    )
    assert texts(reply) == ["Use {braces} in the bike shop sign", "Another idea right here"]


def test_a_model_repeating_itself_gives_each_copy_and_fragments_are_dropped() -> None:
    reply = "1. Eliminate\n2. Build a bike lane\n3. Build a bike lane\n4. two words"
    assert texts(reply) == ["Build a bike lane", "Build a bike lane"]
    assert parse_ideas("I'm sorry, I cannot help with that.") == []
    assert parse_ideas("") == []
    assert parse_ideas("```\n```") == []
    assert parse_ideas('{"ideas": []}') == []
    assert parse_ideas('{"ideas": [3, null, {"x": 1}]}') == []


def test_words_that_look_like_a_likelihood_stay() -> None:
    assert texts("- Raise bike use by 10%\n- Ride up 5 hills a week") == [
        "Raise bike use by 10%",
        "Ride up 5 hills a week",
    ]


def test_clean_idea_unwraps_quotes_and_cuts_long_ideas_at_a_word() -> None:
    assert clean_idea('  "Swap   the trays"  ') == "Swap the trays"
    long = " ".join(["word"] * 200)
    cut = clean_idea(long)
    assert len(cut) <= MAX_CHARS + 1
    assert cut.endswith("word…")
