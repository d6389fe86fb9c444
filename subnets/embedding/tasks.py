"""The embedding subnet's tasks: a built-in corpus and a seeded sample of it per round.

No downloads: the corpus is a few dozen hand-written sentences plus sentences generated from
topic frames (each frame fills three slots from short word lists), about 1,500 in all, spread
over unrelated topics so that good and bad embeddings are easy to tell apart. Sampling is
deterministic in the seed, so a round can be replayed (and audited) from its seed alone.
"""

from __future__ import annotations

import functools
import itertools
import random
from dataclasses import dataclass

from subnetkit.core.errors import ConfigError
from subnetkit.subnets.embedding.codec import MAX_TEXTS

_HANDWRITTEN = (
    "The river froze overnight and the children skated to school.",
    "A quiet library is the best place to read about volcanoes.",
    "Interest rates rose again, and mortgage applications fell sharply.",
    "She repaired the bicycle chain with a borrowed wrench.",
    "The orchestra tuned their instruments before the overture began.",
    "Photosynthesis turns sunlight, water and carbon dioxide into sugar.",
    "Our flight was delayed for three hours because of fog.",
    "He planted tomatoes, basil and peppers in the back garden.",
    "The database index made the slow query a hundred times faster.",
    "Migrating geese fly south in a long V-shaped line.",
    "The museum reopened with a new exhibit on ancient Egypt.",
    "A fever and a sore throat are common symptoms of the flu.",
    "The striker scored twice in the final ten minutes of the match.",
    "Fresh bread was cooling on the windowsill of the bakery.",
    "The committee postponed the vote until next Thursday.",
    "Glaciers carve deep valleys as they slowly move downhill.",
    "The compiler reported a type error on line forty-two.",
    "My grandmother knits a scarf for every grandchild each winter.",
    "The ferry crosses the bay every half hour in summer.",
    "A thunderstorm knocked out power across the eastern suburbs.",
    "Honeybees communicate the location of flowers by dancing.",
    "The novel follows a detective investigating a lighthouse murder.",
    "Please remember to water the plants while I am away.",
    "The startup raised twelve million dollars in its first funding round.",
    "Wolves were reintroduced to the park to control the deer population.",
    "The recipe calls for two eggs, a cup of flour and a pinch of salt.",
    "Astronomers detected water vapour in the atmosphere of a distant planet.",
    "The train to the mountains leaves from platform nine.",
    "He practised the piano sonata every evening for a month.",
    "Vaccines train the immune system to recognise a virus.",
    "The city council approved a new bicycle lane on Main Street.",
    "Coral reefs are bleaching as ocean temperatures rise.",
    "The old castle walls were built from local grey stone.",
    "Our team shipped the release after fixing the last critical bug.",
    "A cup of green tea contains less caffeine than a cup of coffee.",
    "The marathon route passes through five different neighbourhoods.",
    "Her poem about the sea won first prize in the school contest.",
    "The encryption key must never be stored next to the data it protects.",
    "Snow leopards live high in the mountains of Central Asia.",
    "The bakery sells out of croissants before nine every morning.",
    "Inflation erodes the purchasing power of savings over time.",
    "The toddler built a tall tower out of wooden blocks.",
    "Satellites help farmers measure soil moisture across huge fields.",
    "The violinist broke a string in the middle of the concerto.",
    "Heavy rain caused the river to burst its banks.",
    "He forgot his umbrella and arrived at work soaking wet.",
    "The hospital opened a new wing for children with cancer.",
    "Chess players must think several moves ahead.",
)

# Each frame has three slots filled from the lists that follow it.
_FRAMES: tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "The {} slowly simmered the {} with {}.",
        ("chef", "grandfather", "student", "baker", "cook"),
        ("lentil soup", "tomato sauce", "beef stew", "curry", "risotto", "broth"),
        ("garlic", "fresh thyme", "smoked paprika", "coconut milk", "red wine"),
    ),
    (
        "In the {} match, the {} beat the {} after extra time.",
        ("semi-final", "opening", "championship", "friendly", "league"),
        ("home team", "underdogs", "visitors", "defending champions", "youth squad"),
        ("favourites", "rivals", "league leaders", "local club", "national side"),
    ),
    (
        "The {} found a bug in the {} that corrupted the {}.",
        ("engineer", "tester", "intern", "reviewer", "security researcher"),
        ("parser", "scheduler", "network driver", "payment service", "cache layer"),
        ("user records", "log files", "backups", "search index", "configuration"),
    ),
    (
        "Scientists observed {} near the {} during the {}.",
        ("rare whales", "unusual lightning", "a new comet", "migrating butterflies", "seals"),
        ("north pole", "equator", "coastline", "volcano", "research station"),
        ("solar eclipse", "spring tide", "long winter", "heat wave", "monsoon season"),
    ),
    (
        "The {} announced that {} would {} next year.",
        ("government", "central bank", "company board", "city mayor", "university"),
        ("taxes", "train fares", "tuition fees", "energy prices", "salaries"),
        ("rise by five percent", "be frozen", "fall slightly", "be reviewed", "double"),
    ),
    (
        "My {} loves to {} in the {} on weekends.",
        ("sister", "neighbour", "best friend", "uncle", "dog"),
        ("run", "paint landscapes", "play guitar", "read novels", "go fishing"),
        ("park", "garage", "forest", "old boathouse", "attic"),
    ),
    (
        "The doctor said the {} was caused by {} and prescribed {}.",
        ("rash", "headache", "cough", "stomach ache", "back pain"),
        ("an allergy", "stress", "a virus", "poor posture", "bad food"),
        ("rest", "antibiotics", "an ointment", "physiotherapy", "plenty of water"),
    ),
    (
        "A {} {} was spotted {} the old bridge.",
        ("large", "tiny", "injured", "curious", "sleepy"),
        ("heron", "fox", "otter", "owl", "turtle"),
        ("under", "beside", "on top of", "far from", "near"),
    ),
    (
        "The {} of the {} was painted in {}.",
        ("ceiling", "front door", "hallway", "fence", "boat"),
        ("farmhouse", "cathedral", "school", "cottage", "theatre"),
        ("bright yellow", "deep blue", "pale green", "crimson", "white"),
    ),
    (
        "Investors sold {} after reports that {} had {}.",
        ("tech shares", "government bonds", "gold", "airline stocks", "oil futures"),
        ("profits", "exports", "demand", "unemployment", "consumer spending"),
        ("collapsed", "slowed", "surged", "stalled", "recovered"),
    ),
    (
        "The {} spacecraft will {} to study {}.",
        ("robotic", "crewed", "European", "small", "solar-powered"),
        ("orbit Jupiter", "land on the Moon", "fly past Mars", "visit an asteroid", "reach Venus"),
        ("its magnetic field", "ancient craters", "frozen oceans", "dust storms", "its moons"),
    ),
    (
        "To {} the {}, first {}.",
        ("fix", "clean", "assemble", "update", "replace"),
        ("printer", "kitchen tap", "bookshelf", "router", "car battery"),
        (
            "unplug it",
            "read the manual",
            "turn off the water",
            "find a screwdriver",
            "ask for help",
        ),
    ),
)


@functools.cache
def corpus() -> tuple[str, ...]:
    """Every sentence a task can draw from, in a fixed order (same on every machine)."""
    generated = (
        template.format(*slots)
        for template, *choices in _FRAMES
        for slots in itertools.product(*choices)
    )
    return tuple(dict.fromkeys(itertools.chain(_HANDWRITTEN, generated)))


@dataclass(frozen=True, slots=True)
class EmbeddingTask:
    """One round: the seed it was drawn from and the texts every queried miner must embed."""

    seed: int
    texts: tuple[str, ...]


def make_task(seed: int, k: int = 8) -> EmbeddingTask:
    """Draw ``k`` distinct texts from the corpus, determined by ``seed`` alone."""
    if not 1 <= k <= MAX_TEXTS:
        raise ConfigError(f"texts per task must be between 1 and {MAX_TEXTS}, got {k}")
    texts = tuple(random.Random(seed).sample(corpus(), k))
    return EmbeddingTask(seed=seed, texts=texts)


__all__ = ["EmbeddingTask", "corpus", "make_task"]
