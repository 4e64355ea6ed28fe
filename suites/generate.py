#!/usr/bin/env python3
"""Deterministically generate the built-in evaluation suites.

Writes two lm-eval 0.4 task suites (data + task YAML):

* ``ticket_routing/`` -- the domain TASK suite: route a customer-support ticket to an opaque
  internal queue code (Q17, Q23, ...). Train and test use disjoint issue phrasings and partly
  disjoint product names, so the test split measures generalisation, not memorisation.
* ``general/`` -- the GENERAL-CAPABILITY suite used to detect catastrophic forgetting:
  420 easy multiple-choice items, 70 for each of six capabilities.

Every item is written by this script (hand-written lists plus templates); nothing is copied
from third-party data. The script uses only the standard library and fixed seeds, so running

    python suites/generate.py            # writes next to this file
    python suites/generate.py --out DIR  # writes into DIR/ticket_routing and DIR/general

reproduces the committed files byte-for-byte.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

SEED = 20240611
SUITES_DIR = Path(__file__).resolve().parent

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


# --------------------------------------------------------------------------------------------
# 1. ticket routing (domain task suite)
# --------------------------------------------------------------------------------------------

QUEUES: list[tuple[str, str]] = [
    ("Q17", "billing"),
    ("Q23", "shipping"),
    ("Q38", "account_access"),
    ("Q41", "hardware"),
    ("Q56", "software"),
    ("Q62", "cancellation"),
]
CHOICES = [code for code, _ in QUEUES]
N_TRAIN = 480
N_TEST = 300

# Issue phrasings per queue (18 each: 12 go to train, 6 to test; the split is seeded).
ISSUES: dict[str, list[str]] = {
    "Q17": [
        "I was charged twice for my {product} order.",
        "There is a charge on my card for the {product} that I do not recognise.",
        "I returned the {product} two weeks ago but I still have not received my refund.",
        "My invoice for the {product} shows the wrong amount.",
        "The price I paid for the {product} is higher than the price shown at checkout.",
        "Can you explain the extra fee on my bill for the {product}?",
        "I need a refund for the {product} because I was overcharged.",
        "My credit card was billed for a {product} that I never ordered.",
        "The discount code was not applied to my payment for the {product}.",
        "Please send me a corrected invoice for my {product} purchase.",
        "I see two identical payments for the {product} on my bank statement.",
        "The refund I got for my {product} was less than what I paid.",
        "Why was I charged a late payment fee on my {product} account?",
        "The sales tax on my {product} receipt looks incorrect.",
        "I paid for the {product}, the money left my account, but the payment still says failed.",
        "I would like my money back for the {product}, the payment went through by mistake.",
        "The order total on my {product} receipt does not match my card statement.",
        "I was charged full price for the {product} even though it was on sale.",
    ],
    "Q23": [
        "My {product} order has not arrived yet and it is already a week late.",
        "The tracking number for my {product} has not updated in five days.",
        "The {product} was delivered to the wrong address.",
        "The courier says my {product} was delivered but there is no parcel at my door.",
        "Can I change the delivery address for my {product} order?",
        "My {product} package has been stuck in transit for days.",
        "The delivery date for my {product} keeps getting pushed back.",
        "I only received part of my order, the {product} was not in the parcel.",
        "When will my {product} be shipped?",
        "The parcel with my {product} was sent back to the warehouse by the carrier.",
        "I paid for express shipping but my {product} is coming by standard post.",
        "The driver left my {product} with a neighbour I do not know.",
        "The carrier says my {product} shipment is lost.",
        "Can I collect my {product} order from a pickup point instead of home delivery?",
        "My {product} order says shipped, but the tracking link does not work.",
        "Do you ship the {product} to other countries?",
        "My {product} delivery was scheduled for yesterday but nobody came.",
        "The package with my {product} arrived three weeks after the estimated delivery date.",
    ],
    "Q38": [
        "I cannot log in to my account to register my {product}.",
        "I forgot my password and the reset email never arrives.",
        "My account is locked after too many failed sign-in attempts.",
        "The two-factor code for my account is never accepted.",
        "I no longer have access to the email address on my account, so I cannot sign in.",
        "The password reset link says it has expired.",
        "I think someone else has logged in to my account and changed my password.",
        "I keep getting an invalid username or password message even though my password is right.",
        "I need to change the email address I use to sign in to my {product} account.",
        "My account was suspended and I cannot sign in to manage my {product}.",
        "The verification code sent to my phone never comes through, so I cannot get in.",
        "After changing my password I am still unable to log in.",
        "I created an account for my {product} but the activation link does not work.",
        "Please unlock my account so I can log in again.",
        "I get logged out of my account every few minutes.",
        "I cannot remember which username I used for my {product} account.",
        "The login page rejects my new password.",
        "My account shows a security alert and I cannot get back in.",
    ],
    "Q41": [
        "The screen on my {product} is cracked.",
        "My {product} will not turn on even when it is plugged in.",
        "The battery in my {product} drains completely within an hour.",
        "The casing of my {product} is dented and the hinge is loose.",
        "My {product} gets very hot and smells of burning plastic.",
        "The charging port on my {product} is loose and it no longer charges.",
        "One of the physical buttons on my {product} is stuck.",
        "The speaker on my {product} makes a crackling noise.",
        "My {product} stopped working after a little water got inside.",
        "There are dead pixels on the display of my {product}.",
        "The power cable of my {product} is frayed and sparks.",
        "My {product} makes a loud grinding noise from inside.",
        "The {product} has a broken hinge and the lid will not stay up.",
        "The headphone jack on my {product} is physically damaged.",
        "The battery of my {product} is swollen and the back cover is bulging.",
        "The camera lens on my {product} is scratched.",
        "My {product} fell off the table and now the screen flickers.",
        "The {product} is physically broken and I need it repaired or replaced.",
    ],
    "Q56": [
        "The {product} app crashes every time I open it.",
        "After the latest update my {product} shows error code 0x80.",
        "The settings page in the {product} app freezes.",
        "I get an error message when I try to sync my {product}.",
        "The {product} firmware update failed halfway through.",
        "The {product} app closes by itself when I tap save.",
        "There is a bug in the {product} software that always shows the wrong time.",
        "The {product} app shows a blank white screen after loading.",
        "Notifications from the {product} app stopped working after the update.",
        "The {product} software keeps giving me an unexpected error message.",
        "The search feature in the {product} app returns no results.",
        "My {product} is stuck in a reboot loop after installing the new software.",
        "A bug in the {product} app drains my mobile data in the background.",
        "Exporting files from the {product} app throws an error.",
        "The {product} desktop program crashes when I try to print.",
        "The {product} app will not load my saved settings.",
        "The latest {product} software version broke the Bluetooth pairing feature.",
        "The {product} app displays the wrong language even after I change the setting.",
    ],
    "Q62": [
        "I want to cancel my {product} subscription.",
        "Please cancel my {product} order, I no longer need it.",
        "How do I downgrade my {product} plan to the basic tier?",
        "I would like to upgrade my {product} subscription to the premium plan.",
        "Please turn off the automatic renewal of my {product} membership.",
        "I want to end my {product} contract early.",
        "Can I pause my {product} subscription for two months?",
        "Please switch my {product} plan from monthly to yearly.",
        "I signed up for the {product} free trial and want to cancel before it converts.",
        "Please close my {product} membership at the end of this period.",
        "How do I unsubscribe from the {product} service?",
        "I want to change my {product} plan to add another user.",
        "Please terminate my {product} service agreement.",
        "I would like to cancel the {product} add-on I subscribed to last month.",
        "Can I move my {product} subscription to a cheaper plan?",
        "Please do not renew my {product} subscription next year.",
        "I want to opt out of the {product} subscription that started after my trial.",
        "Can you tell me how to cancel my {product} plan online?",
    ],
}

PRODUCTS = [
    "NovaPhone X2",
    "NovaPhone Mini",
    "AeroBook 14",
    "AeroBook Air",
    "TerraWatch S",
    "TerraWatch Sport",
    "ZenCam 4K",
    "ZenCam Go",
    "Kestrel Tab 8",
    "Kestrel Tab Pro",
    "Lumo Smart Display",
    "PixelPad 10",
    "Vela Laptop 15",
    "Orbit Phone 5",
    "PulseWatch 3",
    "Strata Tablet 11",
]

OPENERS = [
    "Hi!",
    "Hello!",
    "Hi there!",
    "Hi team!",
    "Good morning!",
    "Good afternoon!",
    "Hey!",
    "Hello support!",
    "Hi, I hope you can help.",
    "Hello, I need some help.",
]

DETAILS = [
    "My order number is {order}.",
    "The order reference is {order}.",
    "I bought it on {date}.",
    "This started on {date}.",
    "My customer ID is {cust}.",
    "I have had the {product} since {month}.",
    "It is the {colour} model.",
    "I am writing from {city}.",
]

CLOSINGS = [
    "Thanks.",
    "Thank you.",
    "Thanks in advance.",
    "Please help.",
    "Please advise.",
    "Regards, {name}.",
    "Best, {name}.",
    "Cheers, {name}.",
    "Thanks for your help.",
    "I would appreciate a quick reply.",
]

MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
COLOURS = ["black", "white", "silver", "blue", "red", "grey", "green"]
CITIES = ["Leeds", "Lyon", "Denver", "Porto", "Osaka", "Perth", "Austin", "Dublin", "Graz"]
NAMES = ["Anna", "Ben", "Carla", "Dev", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jon", "Kim"]


def _ticket(rng: random.Random, issue: str, products: Sequence[str]) -> str:
    product = rng.choice(products)
    fill = {
        "product": product,
        "order": f"#{rng.randrange(100000, 1000000)}",
        "date": f"{rng.randrange(1, 29)} {rng.choice(MONTHS)}",
        "month": rng.choice(MONTHS),
        "cust": f"C-{rng.randrange(10000, 100000)}",
        "colour": rng.choice(COLOURS),
        "city": rng.choice(CITIES),
        "name": rng.choice(NAMES),
    }
    parts: list[str] = []
    if rng.random() < 0.6:
        parts.append(rng.choice(OPENERS))
    parts.append(issue.format(**fill))
    if rng.random() < 0.85:
        parts.append(rng.choice(DETAILS).format(**fill))
    if rng.random() < 0.75:
        parts.append(rng.choice(CLOSINGS).format(**fill))
    return " ".join(parts)


def _split_rows(
    rng: random.Random,
    split: str,
    n_total: int,
    issues: dict[str, list[str]],
    products: Sequence[str],
) -> list[dict]:
    per_queue = n_total // len(QUEUES)
    rows: list[dict] = []
    seen: set[str] = set()
    for label, (code, _topic) in enumerate(QUEUES):
        phrasings = issues[code]
        for k in range(per_queue):
            issue = phrasings[k % len(phrasings)]
            for _attempt in range(1000):
                text = _ticket(rng, issue, products)
                if text not in seen:
                    break
            else:  # pragma: no cover - combinatorics make this unreachable
                raise RuntimeError("could not generate a unique ticket")
            seen.add(text)
            rows.append({"ticket": text, "label": label, "queue": code})
    rng.shuffle(rows)
    return [{"id": f"tr-{split}-{i + 1:04d}", **r} for i, r in enumerate(rows)]


def build_ticket_routing() -> tuple[list[dict], list[dict]]:
    rng = random.Random(SEED)
    train_issues: dict[str, list[str]] = {}
    test_issues: dict[str, list[str]] = {}
    for code, _topic in QUEUES:
        phr = list(ISSUES[code])
        assert len(phr) == len(set(phr)) >= 12, code
        rng.shuffle(phr)
        cut = (2 * len(phr)) // 3
        train_issues[code], test_issues[code] = phr[:cut], phr[cut:]
    all_phrasings = [p for code, _ in QUEUES for p in ISSUES[code]]
    assert len(all_phrasings) == len(set(all_phrasings)), "duplicate phrasing across queues"

    products = list(PRODUCTS)
    rng.shuffle(products)
    # 6 train-only, 6 shared, 4 test-only product names
    train_products, test_products = products[:12], products[6:]

    train = _split_rows(rng, "train", N_TRAIN, train_issues, train_products)
    test = _split_rows(rng, "test", N_TEST, test_issues, test_products)

    train_texts = {r["ticket"] for r in train}
    test_texts = {r["ticket"] for r in test}
    assert len(train_texts) == N_TRAIN and len(test_texts) == N_TEST
    assert not train_texts & test_texts, "ticket text appears in both splits"
    for code, _ in QUEUES:  # no test phrasing leaks into train (and vice versa)
        assert not set(train_issues[code]) & set(test_issues[code])
    for rows, n in ((train, N_TRAIN), (test, N_TEST)):
        counts = Counter(r["label"] for r in rows)
        assert counts == dict.fromkeys(range(len(QUEUES)), n // len(QUEUES)), counts
    return train, test


TICKET_YAML = """\
task: harness_ticket_routing
dataset_path: json
dataset_kwargs:
  data_files:
    train: train.jsonl
    test: test.jsonl
training_split: train
test_split: test
output_type: multiple_choice
doc_to_text: "Route this support ticket to its queue.\\nTicket: {{ticket}}\\nQueue:"
doc_to_choice: ["Q17", "Q23", "Q38", "Q41", "Q56", "Q62"]
doc_to_target: label
target_delimiter: " "
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
  kind: task
  capability: ticket_routing
  description: >-
    Route a short customer-support ticket to one of six opaque internal queue codes
    (Q17 billing, Q23 shipping, Q38 account access, Q41 hardware fault, Q56 software bug,
    Q62 cancellation/subscription). The codes carry no meaning, so an untuned model scores
    near chance (1/6); train and test use disjoint issue phrasings and partly disjoint
    product names, so test accuracy measures a generalising fine-tune. Generated by
    suites/generate.py (480 train, 300 test, labels balanced).
"""

# --------------------------------------------------------------------------------------------
# 2. general capability suite (forgetting detector)
# --------------------------------------------------------------------------------------------

CAPABILITIES = [
    "arithmetic",
    "factual_recall",
    "commonsense",
    "logic",
    "language",
    "instruction_following",
]
PER_CAPABILITY = 70

# (question, correct answer, distractors...)
Item = tuple[str, ...]

FACTS: list[Item] = [
    ("What is the capital of France?", "Paris", "London", "Berlin", "Madrid"),
    ("What is the capital of Japan?", "Tokyo", "Beijing", "Seoul", "Bangkok"),
    ("What is the capital of Italy?", "Rome", "Milan", "Venice", "Naples"),
    ("What is the capital of Germany?", "Berlin", "Munich", "Hamburg", "Vienna"),
    ("What is the capital of Spain?", "Madrid", "Barcelona", "Lisbon", "Seville"),
    ("What is the capital of the United Kingdom?", "London", "Manchester", "Dublin", "Liverpool"),
    ("What is the capital of Russia?", "Moscow", "Saint Petersburg", "Kyiv", "Minsk"),
    ("What is the capital of Egypt?", "Cairo", "Alexandria", "Nairobi", "Tunis"),
    ("What is the capital of Canada?", "Ottawa", "Toronto", "Vancouver", "Montreal"),
    ("What is the capital of Australia?", "Canberra", "Sydney", "Melbourne", "Perth"),
    ("What is the capital of China?", "Beijing", "Shanghai", "Hong Kong", "Tokyo"),
    ("What is the capital of Greece?", "Athens", "Thessaloniki", "Istanbul", "Rome"),
    ("What is the capital of Portugal?", "Lisbon", "Porto", "Madrid", "Seville"),
    ("What is the capital of Ireland?", "Dublin", "Cork", "Galway", "London"),
    ("What is the capital of Norway?", "Oslo", "Stockholm", "Bergen", "Helsinki"),
    ("What is the capital of Sweden?", "Stockholm", "Oslo", "Gothenburg", "Copenhagen"),
    (
        "What is the capital of the United States?",
        "Washington, D.C.",
        "New York City",
        "Los Angeles",
        "Chicago",
    ),
    ("What is the capital of Mexico?", "Mexico City", "Guadalajara", "Cancún", "Monterrey"),
    ("What is the capital of India?", "New Delhi", "Mumbai", "Kolkata", "Bangalore"),
    ("What is the capital of Kenya?", "Nairobi", "Mombasa", "Cairo", "Lagos"),
    ("What is the capital of Brazil?", "Brasília", "Rio de Janeiro", "São Paulo", "Lima"),
    ("What is the capital of Argentina?", "Buenos Aires", "Santiago", "Lima", "Montevideo"),
    ("What is the capital of Turkey?", "Ankara", "Istanbul", "Izmir", "Athens"),
    ("What is the capital of South Korea?", "Seoul", "Busan", "Tokyo", "Pyongyang"),
    ("Which is the largest planet in our solar system?", "Jupiter", "Earth", "Mars", "Venus"),
    ("Which planet is closest to the Sun?", "Mercury", "Venus", "Earth", "Mars"),
    ("Which planet is known as the Red Planet?", "Mars", "Venus", "Jupiter", "Saturn"),
    ("Which planet is famous for its large, bright rings?", "Saturn", "Mars", "Mercury", "Venus"),
    ("How many planets are in our solar system?", "8", "7", "10", "12"),
    ("What is the star at the centre of our solar system?", "the Sun", "Sirius", "Polaris", "Vega"),
    ("What is the name of Earth's natural satellite?", "the Moon", "the Sun", "Mars", "Venus"),
    ("What is the name of the galaxy we live in?", "the Milky Way", "Andromeda", "Orion", "Draco"),
    ("How many days are there in a week?", "7", "5", "6", "8"),
    ("How many months are there in a year?", "12", "10", "11", "13"),
    ("How many hours are there in a day?", "24", "12", "20", "48"),
    ("How many minutes are there in an hour?", "60", "30", "100", "24"),
    ("How many seconds are there in a minute?", "60", "100", "30", "10"),
    ("How many days are there in a leap year?", "366", "365", "364", "360"),
    ("What colour is the sky on a clear day?", "blue", "green", "red", "purple"),
    ("What colour is fresh grass?", "green", "blue", "orange", "purple"),
    ("What is the chemical symbol for gold?", "Au", "Ag", "Gd", "Go"),
    ("What is the chemical symbol for silver?", "Ag", "Au", "Si", "Sv"),
    ("What is the chemical symbol for iron?", "Fe", "Ir", "In", "I"),
    ("What is the chemical symbol for oxygen?", "O", "Ox", "G", "H"),
    ("What is the chemical formula for water?", "H2O", "CO2", "O2", "NaCl"),
    (
        "Which gas do plants take in from the air to make food?",
        "carbon dioxide",
        "oxygen",
        "helium",
        "neon",
    ),
    ("Which gas do humans need to breathe to stay alive?", "oxygen", "helium", "neon", "argon"),
    (
        "At what temperature does water boil at sea level?",
        "100 degrees Celsius",
        "50 degrees Celsius",
        "0 degrees Celsius",
        "37 degrees Celsius",
    ),
    (
        "At what temperature does water freeze?",
        "0 degrees Celsius",
        "100 degrees Celsius",
        "50 degrees Celsius",
        "20 degrees Celsius",
    ),
    (
        "Which is the largest ocean on Earth?",
        "the Pacific",
        "the Atlantic",
        "the Indian",
        "the Arctic",
    ),
    ("Which river flows through Cairo?", "the Nile", "the Amazon", "the Danube", "the Thames"),
    (
        "What is the tallest mountain in the world?",
        "Mount Everest",
        "Mont Blanc",
        "Kilimanjaro",
        "Mount Fuji",
    ),
    ("Which is the largest continent by area?", "Asia", "Europe", "Australia", "Antarctica"),
    ("On which continent is Brazil?", "South America", "Africa", "Europe", "Asia"),
    ("On which continent is Kenya?", "Africa", "South America", "Europe", "Asia"),
    ("How many continents are there?", "7", "3", "5", "10"),
    ("In which country is the Eiffel Tower?", "France", "Italy", "Spain", "Germany"),
    ("In which country are the pyramids of Giza?", "Egypt", "Mexico", "Peru", "Greece"),
    ("In which country is the Great Wall?", "China", "Japan", "India", "Brazil"),
    (
        "In which city is the Statue of Liberty?",
        "New York City",
        "Chicago",
        "Los Angeles",
        "Boston",
    ),
    ("Which is the largest country by area?", "Russia", "France", "India", "Mexico"),
    (
        "Who wrote Romeo and Juliet?",
        "William Shakespeare",
        "Charles Dickens",
        "Mark Twain",
        "Jane Austen",
    ),
    (
        "Who painted the Mona Lisa?",
        "Leonardo da Vinci",
        "Pablo Picasso",
        "Vincent van Gogh",
        "Claude Monet",
    ),
    (
        "Who was the first person to walk on the Moon?",
        "Neil Armstrong",
        "Yuri Gagarin",
        "Isaac Newton",
        "Christopher Columbus",
    ),
    (
        "Who developed the theory of relativity?",
        "Albert Einstein",
        "Isaac Newton",
        "Charles Darwin",
        "Louis Pasteur",
    ),
    (
        "Who proposed the theory of evolution by natural selection?",
        "Charles Darwin",
        "Albert Einstein",
        "Isaac Newton",
        "Galileo Galilei",
    ),
    ("How many legs does a spider have?", "8", "6", "4", "10"),
    ("How many legs does an insect have?", "6", "8", "4", "10"),
    ("How many legs does a dog have?", "4", "2", "6", "8"),
    (
        "What is the largest animal on Earth?",
        "the blue whale",
        "the elephant",
        "the giraffe",
        "the horse",
    ),
    ("What is the fastest land animal?", "the cheetah", "the cow", "the elephant", "the tortoise"),
    ("What sweet food do bees make?", "honey", "milk", "cheese", "bread"),
    ("What is the hardest natural substance?", "diamond", "gold", "chalk", "wood"),
    ("How many sides does a triangle have?", "3", "4", "5", "6"),
    ("How many sides does a hexagon have?", "6", "5", "7", "8"),
    ("What is the currency of Japan?", "the yen", "the won", "the peso", "the rupee"),
    ("What is the main language spoken in Brazil?", "Portuguese", "Spanish", "French", "Italian"),
    ("What is the main language spoken in Mexico?", "Spanish", "Portuguese", "French", "German"),
    (
        "Which organ pumps blood around the body?",
        "the heart",
        "the lungs",
        "the liver",
        "the stomach",
    ),
    (
        "Which organs do humans use to breathe?",
        "the lungs",
        "the kidneys",
        "the liver",
        "the heart",
    ),
    ("How many bones are in the adult human body?", "206", "106", "306", "56"),
    (
        "What is the largest hot desert in the world?",
        "the Sahara",
        "the Gobi",
        "the Kalahari",
        "the Mojave",
    ),
    ("How many players does a soccer team have on the field?", "11", "5", "9", "15"),
    ("What is frozen water called?", "ice", "steam", "dew", "smoke"),
]

COMMONSENSE: list[Item] = [
    ("What do you use to cut paper?", "scissors", "a spoon", "a pillow", "a sponge"),
    ("What do you use to write on paper?", "a pen", "a fork", "a cup", "a shoe"),
    (
        "Where do you keep milk cold?",
        "in the refrigerator",
        "in the oven",
        "on the roof",
        "in the bath",
    ),
    ("What do you wear on your feet?", "shoes", "gloves", "hats", "scarves"),
    ("What do you use to unlock a door?", "a key", "a spoon", "a pencil", "a comb"),
    ("What do you drink when you are thirsty?", "water", "sand", "paper", "soap"),
    (
        "What should a driver do when the traffic light turns red?",
        "stop",
        "speed up",
        "close their eyes",
        "get out of the car",
    ),
    (
        "What do most people do at night to rest?",
        "sleep",
        "run a marathon",
        "mow the lawn",
        "paint the house",
    ),
    (
        "If you drop a glass on a hard floor, what will probably happen?",
        "It will break.",
        "It will grow.",
        "It will melt.",
        "It will sing.",
    ),
    (
        "What happens to an ice cube left in the hot sun?",
        "It melts.",
        "It grows bigger.",
        "It turns into stone.",
        "It starts to glow.",
    ),
    (
        "What is an umbrella used for?",
        "staying dry in the rain",
        "cooking food",
        "cutting wood",
        "telling time",
    ),
    ("Where do fish live?", "in water", "in trees", "in the desert", "in the sky"),
    ("What do you need to see in a dark room?", "a light", "a spoon", "a blanket", "a pillow"),
    ("What do you use to brush your teeth?", "a toothbrush", "a hammer", "a fork", "a stapler"),
    ("Which season is usually the coldest?", "winter", "summer", "spring", "autumn"),
    (
        "What do plants need to grow?",
        "water and sunlight",
        "salt and darkness",
        "plastic and glass",
        "oil and smoke",
    ),
    (
        "What is polite to say when someone gives you a gift?",
        "thank you",
        "go away",
        "hurry up",
        "be quiet",
    ),
    (
        "Where do you go to borrow books?",
        "a library",
        "a bakery",
        "a gas station",
        "a swimming pool",
    ),
    ("Where would you go to buy bread?", "a bakery", "a library", "a post office", "a car wash"),
    ("Where do you go if you are badly hurt?", "a hospital", "a cinema", "a bakery", "a stadium"),
    ("What do you use to tell the time?", "a clock", "a spoon", "a pillow", "a ladder"),
    (
        "What do you use to dig a hole in the garden?",
        "a shovel",
        "a feather",
        "a napkin",
        "a pillow",
    ),
    (
        "What do you put on an envelope before you post it?",
        "a stamp",
        "a candle",
        "a sock",
        "a spoon",
    ),
    ("What do you wear to keep your hands warm?", "gloves", "socks", "sunglasses", "a belt"),
    ("What should a very tired person do?", "rest", "run a race", "lift heavy boxes", "skip sleep"),
    ("What do cows give us to drink?", "milk", "juice", "tea", "lemonade"),
    ("What falls from the clouds when it rains?", "water", "sand", "leaves", "rocks"),
    (
        "What should you do before crossing a busy street?",
        "look both ways",
        "close your eyes",
        "run without looking",
        "lie down",
    ),
    ("What do you usually use to eat soup?", "a spoon", "a knife", "a comb", "a pencil"),
    (
        "Why do people wear sunglasses?",
        "to protect their eyes from bright light",
        "to hear better",
        "to keep their feet warm",
        "to smell better",
    ),
    (
        "What happens to water left in a freezer?",
        "It turns into ice.",
        "It boils.",
        "It turns into juice.",
        "It catches fire.",
    ),
    ("What would you use to carry groceries home?", "a bag", "a spoon", "a stamp", "a lamp"),
    (
        "When it is dark outside and the stars are out, what time of day is it?",
        "night",
        "noon",
        "lunchtime",
        "mid-morning",
    ),
    (
        "If your hands are dirty, what should you do?",
        "wash them",
        "rub them in mud",
        "dip them in paint",
        "cover them in glue",
    ),
    ("What does a thermometer measure?", "temperature", "weight", "length", "speed"),
    ("What is the meal eaten in the morning called?", "breakfast", "dinner", "supper", "lunch"),
    (
        "Which animal is commonly kept as a pet at home?",
        "a dog",
        "a shark",
        "a lion",
        "a crocodile",
    ),
    ("What do you use to take a photo?", "a camera", "a spoon", "a broom", "a pillow"),
    (
        "Where do birds usually build their nests?",
        "in trees",
        "under the sea",
        "inside a refrigerator",
        "in an oven",
    ),
    ("What do you use to boil water for tea?", "a kettle", "a freezer", "a fan", "a bookshelf"),
    ("What do firefighters put out?", "fires", "letters", "groceries", "songs"),
    ("Who usually teaches students in a school?", "a teacher", "a pilot", "a farmer", "a sailor"),
    ("Who flies an airplane?", "a pilot", "a dentist", "a baker", "a librarian"),
    (
        "Who takes care of sick animals?",
        "a veterinarian",
        "a plumber",
        "an electrician",
        "a lawyer",
    ),
    ("What do you use to clean a dirty floor?", "a mop", "a pillow", "a sandwich", "a pencil"),
    ("What do you sleep on at night?", "a bed", "a stove", "a bicycle", "a bookshelf"),
    (
        "How do you usually feel after eating a big meal?",
        "full",
        "hungry",
        "thirsty for sand",
        "invisible",
    ),
    (
        "What should you do if you feel cold?",
        "put on a warm coat",
        "open all the windows",
        "eat ice cream",
        "take off your shoes",
    ),
]

# (question stem adjective, bigger-side, smaller-side)
COMPARISONS: list[tuple[str, str, str]] = [
    ("heavier", "an elephant", "a mouse"),
    ("heavier", "a car", "a bicycle"),
    ("heavier", "a brick", "a feather"),
    ("heavier", "a bowling ball", "a tennis ball"),
    ("heavier", "a truck", "a motorcycle"),
    ("heavier", "a horse", "a cat"),
    ("heavier", "a watermelon", "a grape"),
    ("heavier", "a piano", "a guitar"),
    ("bigger", "a house", "a shoebox"),
    ("bigger", "a mountain", "a pebble"),
    ("bigger", "a bus", "a skateboard"),
    ("bigger", "an ocean", "a puddle"),
    ("bigger", "a whale", "a goldfish"),
    ("bigger", "a football stadium", "a bedroom"),
    ("faster", "an airplane", "a bicycle"),
    ("faster", "a rabbit", "a snail"),
    ("faster", "a racing car", "a person walking"),
    ("faster", "a train", "a tortoise"),
    ("hotter", "a campfire", "an ice cube"),
    ("hotter", "boiling water", "snow"),
    ("colder", "an ice cube", "a cup of hot tea"),
    ("softer", "a pillow", "a rock"),
    ("taller", "a giraffe", "a dog"),
]


def _arithmetic(rng: random.Random) -> list[Item]:
    items: list[Item] = []
    seen: set[str] = set()
    plan = [("+", 25), ("-", 25), ("times", 20)]
    for op, n in plan:
        made = 0
        while made < n:
            if op == "+":
                a, b = rng.randrange(2, 21), rng.randrange(2, 21)
                ans = a + b
                near = [ans + 1, ans - 1, ans + 2, ans - 2, ans + 10, abs(a - b)]
            elif op == "-":
                a = rng.randrange(10, 31)
                b = rng.randrange(2, a)
                ans = a - b
                near = [ans + 1, ans - 1, ans + 2, ans - 2, a + b, ans + 10]
            else:
                a, b = rng.randrange(2, 10), rng.randrange(2, 10)
                ans = a * b
                near = [ans + a, ans - a, ans + b, ans - b, ans + 1, a + b]
            q = f"What is {a} {op} {b}?"
            if q in seen:
                continue
            distractors = sorted({x for x in near if x >= 0 and x != ans})
            rng.shuffle(distractors)
            seen.add(q)
            items.append((q, str(ans), *(str(x) for x in distractors[:3])))
            made += 1
    return items


def _commonsense(rng: random.Random) -> list[Item]:
    items: list[Item] = list(COMMONSENSE)
    for adj, big, small in COMPARISONS:
        pair = [big, small]
        rng.shuffle(pair)
        items.append((f"Which is {adj}, {pair[0]} or {pair[1]}?", big, small))
    return items


PEOPLE = [
    "Tom", "Ann", "Bob", "Sara", "Liam", "Mia", "Omar", "Zoe", "Ivan", "Lucy",
    "Raj", "Nina", "Paul", "Eva", "Sam", "Kate",
]  # fmt: skip
# comparative, superlative of the top, superlative of the bottom
RELATIONS = [
    ("taller", "tallest", "shortest"),
    ("older", "oldest", "youngest"),
    ("faster", "fastest", "slowest"),
    ("heavier", "heaviest", "lightest"),
]
NONSENSE_KINDS = ["wugs", "daxes", "blickets", "feps", "zorbs", "glims", "toves", "kliffs"]
REAL_SYLLOGISMS = [  # (X plural, X singular, Y plural, Y singular)
    ("dogs", "a dog", "animals", "an animal"),
    ("roses", "a rose", "flowers", "a flower"),
    ("oaks", "an oak", "trees", "a tree"),
    ("sparrows", "a sparrow", "birds", "a bird"),
    ("trout", "a trout", "fish", "a fish"),
    ("apples", "an apple", "fruits", "a fruit"),
]
PET_NAMES = ["Rex", "Pip", "Max", "Luna", "Bo", "Kiki", "Fred", "Milo"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _singular(plural: str) -> str:
    return plural[:-2] if plural.endswith("xes") else plural[:-1]


def _article(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _logic(rng: random.Random) -> list[Item]:
    items: list[Item] = []
    seen: set[str] = set()
    # 30 three-person orderings
    while len(items) < 30:
        comp, top, bottom = RELATIONS[len(items) % len(RELATIONS)]
        a, b, c = rng.sample(PEOPLE, 3)  # a > b > c
        facts = [f"{a} is {comp} than {b}.", f"{b} is {comp} than {c}."]
        if rng.random() < 0.5:
            facts.reverse()
        ask_top = len(items) % 2 == 0
        q = f"{' '.join(facts)} Who is the {top if ask_top else bottom}?"
        if q in seen:
            continue
        seen.add(q)
        items.append(
            (q, a if ask_top else c, *(x for x in (a, b, c) if x != (a if ask_top else c)))
        )
    # 24 yes/no syllogisms, 12 "Yes" and 12 "No"
    forms = ["all_yes", "none_no", "chain_yes", "tollens_no"]
    n_syl = 0
    while n_syl < 24:
        form = forms[n_syl % 4]
        name = PET_NAMES[n_syl % len(PET_NAMES)]
        xp, yp, zp = rng.sample(NONSENSE_KINDS, 3)
        xs, ys = _article(_singular(xp)), _article(_singular(yp))
        if form == "all_yes" and n_syl % 8 == 0:  # some with real categories
            xp, xs, yp, ys = REAL_SYLLOGISMS[(n_syl // 8) % len(REAL_SYLLOGISMS)]
        if form == "all_yes":
            q, ans = f"All {xp} are {yp}. {name} is {xs}. Is {name} {ys}?", "Yes"
        elif form == "none_no":
            q, ans = f"No {xp} are {yp}. {name} is {xs}. Is {name} {ys}?", "No"
        elif form == "chain_yes":
            q = f"All {xp} are {yp}. All {yp} are {zp}. Are all {xp} {zp}?"
            ans = "Yes"
        else:
            q, ans = f"All {xp} are {yp}. {name} is not {ys}. Is {name} {xs}?", "No"
        if q in seen:
            continue
        seen.add(q)
        items.append((q, ans, "No" if ans == "Yes" else "Yes"))
        n_syl += 1
    # 16 day-of-week questions
    day_qs: list[Item] = []
    for d, day in enumerate(DAYS):
        nxt, prev = DAYS[(d + 1) % 7], DAYS[(d - 1) % 7]
        after2 = DAYS[(d + 2) % 7]
        others = [x for x in DAYS if x not in (day, nxt, prev)]
        day_qs.append(
            (f"If today is {day}, what day will it be tomorrow?", nxt, prev, day, others[0])
        )
        day_qs.append((f"If today is {day}, what day was it yesterday?", prev, nxt, day, others[1]))
        day_qs.append(
            (f"If today is {day}, what day will it be in two days?", after2, nxt, prev, day)
        )
    rng.shuffle(day_qs)
    items.extend(day_qs[:16])
    return items


ANTONYMS: list[tuple[str, str]] = [
    ("hot", "cold"), ("big", "small"), ("up", "down"), ("happy", "sad"), ("fast", "slow"),
    ("early", "late"), ("full", "empty"), ("young", "old"), ("strong", "weak"), ("day", "night"),
    ("wet", "dry"), ("loud", "quiet"), ("tall", "short"), ("rich", "poor"), ("clean", "dirty"),
    ("win", "lose"), ("thick", "thin"), ("true", "false"), ("push", "pull"), ("buy", "sell"),
]  # fmt: skip

LANGUAGE_HAND: list[Item] = [
    # plurals
    ("What is the plural of 'mouse'?", "mice", "mouses", "mices", "mousen"),
    ("What is the plural of 'child'?", "children", "childs", "childes", "childrens"),
    ("What is the plural of 'foot'?", "feet", "foots", "feets", "footes"),
    ("What is the plural of 'tooth'?", "teeth", "tooths", "teeths", "toothes"),
    ("What is the plural of 'man'?", "men", "mans", "mens", "manes"),
    ("What is the plural of 'woman'?", "women", "womans", "womens", "womanes"),
    ("What is the plural of 'goose'?", "geese", "gooses", "geeses", "goosen"),
    ("What is the plural of 'box'?", "boxes", "boxs", "boxies", "boxen"),
    ("What is the plural of 'baby'?", "babies", "babys", "babyes", "babis"),
    ("What is the plural of 'knife'?", "knives", "knifes", "knifs", "knive"),
    ("What is the plural of 'leaf'?", "leaves", "leafs", "leafes", "leave"),
    ("What is the plural of 'city'?", "cities", "citys", "cityes", "citis"),
    ("What is the plural of 'glass'?", "glasses", "glasss", "glassies", "glassen"),
    ("What is the plural of 'sheep'?", "sheep", "sheeps", "sheepes", "sheepen"),
    ("What is the plural of 'book'?", "books", "bookes", "bookies", "booken"),
    # past tense
    ("What is the past tense of 'go'?", "went", "goed", "going", "goes"),
    ("What is the past tense of 'eat'?", "ate", "eated", "eating", "eats"),
    ("What is the past tense of 'see'?", "saw", "seed", "seeing", "sees"),
    ("What is the past tense of 'run'?", "ran", "runned", "running", "runs"),
    ("What is the past tense of 'write'?", "wrote", "writed", "writing", "writes"),
    ("What is the past tense of 'take'?", "took", "taked", "taking", "takes"),
    ("What is the past tense of 'give'?", "gave", "gived", "giving", "gives"),
    ("What is the past tense of 'buy'?", "bought", "buyed", "buying", "buys"),
    ("What is the past tense of 'think'?", "thought", "thinked", "thinking", "thinks"),
    ("What is the past tense of 'swim'?", "swam", "swimmed", "swimming", "swims"),
    ("What is the past tense of 'drink'?", "drank", "drinked", "drinking", "drinks"),
    ("What is the past tense of 'sing'?", "sang", "singed", "singing", "sings"),
    ("What is the past tense of 'bring'?", "brought", "bringed", "bringing", "brings"),
    ("What is the past tense of 'walk'?", "walked", "walkt", "walking", "walks"),
    ("What is the past tense of 'play'?", "played", "plaid", "playing", "plays"),
    ("What is the past tense of 'catch'?", "caught", "catched", "catching", "catches"),
    ("What is the past tense of 'fly'?", "flew", "flied", "flying", "flies"),
    ("What is the past tense of 'drive'?", "drove", "drived", "driving", "drives"),
    ("What is the past tense of 'teach'?", "taught", "teached", "teaching", "teaches"),
    ("What is the past tense of 'speak'?", "spoke", "speaked", "speaking", "speaks"),
    # synonyms
    ("Which word means the same as 'happy'?", "glad", "sad", "slow", "heavy"),
    ("Which word means the same as 'big'?", "large", "tiny", "quiet", "empty"),
    ("Which word means the same as 'fast'?", "quick", "slow", "heavy", "late"),
    ("Which word means the same as 'begin'?", "start", "finish", "sleep", "forget"),
    ("Which word means the same as 'finish'?", "end", "start", "open", "grow"),
    ("Which word means the same as 'smart'?", "clever", "lazy", "tall", "cold"),
    ("Which word means the same as 'shut'?", "close", "open", "loud", "bright"),
    ("Which word means the same as 'correct'?", "right", "wrong", "late", "soft"),
    ("Which word means the same as 'rich'?", "wealthy", "poor", "tired", "short"),
    ("Which word means the same as 'ill'?", "sick", "healthy", "tall", "bright"),
    ("Which word means the same as 'gift'?", "present", "debt", "stone", "shadow"),
    ("Which word means the same as 'shout'?", "yell", "whisper", "sleep", "sit"),
    ("Which word means the same as 'silent'?", "quiet", "noisy", "fast", "wet"),
    ("Which word means the same as 'simple'?", "easy", "difficult", "heavy", "dark"),
    ("Which word means the same as 'choose'?", "pick", "refuse", "drop", "forget"),
]


def _language(rng: random.Random) -> list[Item]:
    items: list[Item] = []
    answers = [b for _, b in ANTONYMS]
    for word, opp in ANTONYMS:
        pool = [x for x in answers if x != opp]
        items.append((f"What is the opposite of '{word}'?", opp, *rng.sample(pool, 3)))
    items.extend(LANGUAGE_HAND)
    return items


CAPS_PHRASES = [
    "good morning", "see you soon", "thank you very much", "the meeting is today",
    "happy birthday", "please wait here", "well done team", "the shop is open",
    "welcome back", "have a nice day", "the train is late", "lunch is ready",
]  # fmt: skip
LOWER_PHRASES = [
    "the cat is asleep", "rain is coming", "we are going home", "the door is open",
    "coffee is hot", "my bag is blue", "the park is quiet", "dinner was great",
]  # fmt: skip
WORDS_BY_LEN: dict[int, list[str]] = {
    2: ["go", "up", "at", "on", "me"],
    3: ["cat", "sun", "red", "box", "pen", "cup"],
    4: ["tree", "book", "fish", "blue", "door", "lamp"],
    5: ["apple", "house", "green", "chair", "water", "music"],
    6: ["garden", "orange", "window", "silver", "pencil", "rabbit"],
    7: ["kitchen", "picture", "teacher", "morning", "blanket", "chicken"],
    8: ["elephant", "sandwich", "computer", "mountain", "birthday", "football"],
    9: ["chocolate", "butterfly", "telephone", "adventure", "dinosaurs"],
}
JSON_LISTS = [
    (
        '["red", "green", "blue"]',
        "['red', 'green', 'blue']",
        "(red, green, blue)",
        '["red", "green", "blue"',
    ),
    ("[1, 2, 3]", "(1, 2, 3)", "{1, 2, 3}", "[1, 2, 3"),
    ('["cat", "dog"]', "[cat, dog]", "('cat', 'dog')", '"cat", "dog"]'),
    ("[10, 20, 30, 40]", "{10, 20, 30, 40}", "[10; 20; 30; 40]", "10, 20, 30, 40"),
    ('["apple"]', "['apple']", "[apple]", '("apple")'),
    ("[true, false]", "[True, False]", "(true, false)", "[true, false"),
    ('["a", "b", "c"]', "['a', 'b', 'c']", "[a, b, c]", '{"a", "b", "c"}'),
    ("[7, 8]", "(7, 8)", "[7, 8", "<7, 8>"),
]
QUESTION_SENTENCES = [
    ("Where is the station?", "The station is near.", "Go to the station.", "The station, near"),
    ("Is it raining?", "It is raining.", "It is raining!", "It is raining,"),
    ("What time is it?", "It is three o'clock.", "Tell me the time.", "The time is now."),
    ("Can you help me?", "You can help me.", "Help me!", "I need help."),
    ("Do you like tea?", "I like tea.", "Drink your tea!", "Tea is nice."),
    ("Who won the game?", "Our team won the game.", "Win the game!", "The game is over."),
    ("Are you ready?", "I am ready.", "Get ready!", "Ready, set, go."),
    ("How old are you?", "I am ten years old.", "Tell me your age.", "Age is a number."),
]
LETTER_WORDS = {
    "B": ["ball", "bread", "bird"],
    "S": ["sun", "snake", "spoon"],
    "T": ["table", "tiger", "train"],
    "M": ["moon", "milk", "mouse"],
    "P": ["pear", "piano", "pencil"],
    "R": ["rain", "river", "robot"],
    "D": ["duck", "desk", "drum"],
    "C": ["cake", "coat", "camel"],
}
ALPHA_SETS = [
    ("apple", "banana", "cherry"),
    ("cat", "dog", "fox"),
    ("blue", "green", "red"),
    ("bread", "milk", "tea"),
    ("car", "ship", "train"),
    ("lamp", "sofa", "table"),
    ("ant", "bee", "wasp"),
    ("hat", "shirt", "sock"),
]
COLOUR_WORDS = ["red", "blue", "green", "yellow", "black", "white", "pink", "brown"]


def _instruction_following(rng: random.Random) -> list[Item]:
    items: list[Item] = []
    # 10 all-caps
    for phrase in rng.sample(CAPS_PHRASES, 10):
        items.append(
            (
                "Which answer is written in all capital letters?",
                phrase.upper(),
                phrase,
                phrase.title(),
                phrase.capitalize(),
            )
        )
    # 8 all-lowercase
    for phrase in LOWER_PHRASES:
        items.append(
            (
                "Which answer is written in all lowercase letters?",
                phrase,
                phrase.upper(),
                phrase.title(),
                phrase.capitalize(),
            )
        )
    # 12 exact letter count
    lengths = [3, 4, 5, 6, 7, 8] * 2
    for n in lengths:
        word = rng.choice(WORDS_BY_LEN[n])
        other_lens = [m for m in WORDS_BY_LEN if m != n and abs(m - n) <= 3]
        dist_lens = rng.sample(other_lens, 3)
        distractors = [rng.choice(WORDS_BY_LEN[m]) for m in dist_lens]
        assert len(word) == n and all(len(d) != n for d in distractors)
        items.append((f"Which word has exactly {n} letters?", word, *distractors))
    # 8 valid JSON lists
    for good, *bad in JSON_LISTS:
        items.append(("Which of these is a valid JSON list?", good, *bad))
    # 8 question mark
    for good, *bad in QUESTION_SENTENCES:
        items.append(("Which sentence ends with a question mark?", good, *bad))
    # 8 starting letter
    letters = sorted(LETTER_WORDS)
    for letter in letters:
        word = rng.choice(LETTER_WORDS[letter])
        others = [x for x in letters if x != letter]
        distractors = [rng.choice(LETTER_WORDS[x]) for x in rng.sample(others, 3)]
        items.append((f"Which word starts with the letter {letter}?", word, *distractors))
    # 8 alphabetical order
    for words in ALPHA_SETS:
        assert list(words) == sorted(words), words
        good = ", ".join(words)
        perms = [
            (words[1], words[0], words[2]),
            (words[2], words[1], words[0]),
            (words[0], words[2], words[1]),
        ]
        items.append(("Which list is in alphabetical order?", good, *(", ".join(p) for p in perms)))
    # 8 exactly three comma-separated items
    for _ in range(8):
        cols = rng.sample(COLOUR_WORDS, 4)
        items.append(
            (
                "Which answer lists exactly three colours, separated by commas?",
                ", ".join(cols[:3]),
                ", ".join(cols[:2]),
                ", ".join(cols[:4]),
                " ".join(cols[:3]),
            )
        )
    return items


def _place(rng: random.Random, items: list[Item], capability: str) -> list[dict]:
    """Turn (question, answer, *distractors) into rows with a balanced answer position."""
    decks: dict[int, list[int]] = {}
    rows = []
    for q, answer, *distractors in items:
        n = 1 + len(distractors)
        assert 2 <= n <= 4, q
        assert answer not in distractors and len(set(distractors)) == len(distractors), q
        deck = decks.setdefault(n, [])
        if not deck:
            deck.extend(range(n))
            rng.shuffle(deck)
        pos = deck.pop()
        others = list(distractors)
        rng.shuffle(others)
        choices = [*others[:pos], answer, *others[pos:]]
        rows.append({"capability": capability, "question": q, "choices": choices, "answer": pos})
    return rows


def build_general() -> list[dict]:
    rng = random.Random(SEED + 1)
    builders = {
        "arithmetic": _arithmetic,
        "factual_recall": lambda r: r.sample(FACTS, PER_CAPABILITY),
        "commonsense": lambda r: r.sample(_commonsense(r), PER_CAPABILITY),
        "logic": _logic,
        "language": _language,
        "instruction_following": _instruction_following,
    }
    rows: list[dict] = []
    for cap in CAPABILITIES:
        items = builders[cap](rng)
        assert len(items) == PER_CAPABILITY, (cap, len(items))
        keys = [(q, tuple(sorted(rest))) for q, *rest in items]
        assert len(set(keys)) == len(keys), f"duplicate item in {cap}"
        rows.extend(_place(rng, items, cap))
    rng.shuffle(rows)
    rows = [{"id": f"gen-{i + 1:04d}", **r} for i, r in enumerate(rows)]
    counts = Counter(r["capability"] for r in rows)
    assert counts == dict.fromkeys(CAPABILITIES, PER_CAPABILITY), counts
    return rows


GENERAL_YAML = """\
task: harness_general
dataset_path: json
dataset_kwargs:
  data_files:
    test: test.jsonl
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{question}}\\nAnswer:"
doc_to_choice: "{{choices}}"
doc_to_target: answer
target_delimiter: " "
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
  kind: general
  capability_field: capability
  description: >-
    Easy general-capability multiple choice (2-4 choices per item) used to detect
    catastrophic forgetting after a fine-tune: 70 items each of arithmetic, factual_recall,
    commonsense, logic, language and instruction_following (420 items). Per-capability
    scores come from the capability field. Generated by suites/generate.py.
"""


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def generate(out: Path) -> list[Path]:
    train, test = build_ticket_routing()
    general = build_general()
    written = [
        out / "ticket_routing" / "train.jsonl",
        out / "ticket_routing" / "test.jsonl",
        out / "ticket_routing" / "ticket_routing.yaml",
        out / "general" / "test.jsonl",
        out / "general" / "general.yaml",
    ]
    write_jsonl(written[0], train)
    write_jsonl(written[1], test)
    write_text(written[2], TICKET_YAML)
    write_jsonl(written[3], general)
    write_text(written[4], GENERAL_YAML)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=SUITES_DIR,
        help="output directory (default: the suites/ directory containing this script)",
    )
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
