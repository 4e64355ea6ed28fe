#!/usr/bin/env python3
"""Deterministically generate the built-in evaluation suites.

Writes four lm-eval 0.4 task suites (data + task YAML):

* ``ticket_routing/`` -- the domain TASK suite: route a customer-support ticket to an opaque
  internal queue code (Q17, Q23, ...). Train and test use disjoint issue phrasings and partly
  disjoint product names, so the test split measures generalisation, not memorisation.
* ``general/`` -- the GENERAL-CAPABILITY suite used to detect catastrophic forgetting:
  1500 easy multiple-choice items, 250 for each of six capabilities.
* ``ticket_extraction/`` -- a GENERATION suite: extract the product name or the order number
  from a ticket (160 items), scored per item with ROUGE-L, BLEU and chrF.
* ``support_replies/`` -- a ROLLING LOG-LIKELIHOOD suite: 120 support replies scored by bits
  per byte and perplexity (lower is better).

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
PER_CAPABILITY = 250

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


def _take(rng: random.Random, pool: Sequence[Item], n: int, name: str) -> list[Item]:
    """Sample ``n`` items of one template family (the pool must be big enough)."""
    first: dict[str, Item] = {}
    for it in pool:  # a template may produce the same question twice: keep the first
        first.setdefault(it[0], it)
    uniq = list(first.values())
    assert len(uniq) >= n, (name, len(uniq), n)
    return rng.sample(uniq, n)


def _others(rng: random.Random, answer: str, pool: Sequence[str], k: int = 3) -> list[str]:
    cands = sorted({x for x in pool if x != answer})
    return rng.sample(cands, k)


# ---- arithmetic ------------------------------------------------------------------------------

WP_NAMES = [
    "Tom", "Ann", "Bob", "Sara", "Liam", "Mia", "Omar", "Zoe", "Ivan", "Lucy", "Raj", "Nina",
]  # fmt: skip
WP_THINGS = [
    "apples", "pencils", "stickers", "marbles", "cookies", "books", "stamps", "balloons",
    "shells", "cards",
]  # fmt: skip
WP_CONTAINERS = [("bags", "bag"), ("boxes", "box"), ("baskets", "basket"), ("jars", "jar")]


def _num_item(q: str, ans: int, near: Iterable[int], rng: random.Random) -> Item:
    distractors = sorted({x for x in near if x >= 0 and x != ans})
    rng.shuffle(distractors)
    assert len(distractors) >= 3, q
    return (q, str(ans), *(str(x) for x in distractors[:3]))


def _arithmetic(rng: random.Random) -> list[Item]:
    fam: dict[str, list[Item]] = {k: [] for k in ("add", "sub", "mul", "half", "double")}
    for a in range(2, 21):
        for b in range(2, 21):
            s = a + b
            fam["add"].append(
                _num_item(f"What is {a} + {b}?", s, [s + 1, s - 1, s + 2, s - 2, s + 10], rng)
            )
    for a in range(10, 31):
        for b in range(2, a):
            d = a - b
            fam["sub"].append(
                _num_item(f"What is {a} - {b}?", d, [d + 1, d - 1, d + 2, d - 2, a + b], rng)
            )
    for a in range(2, 10):
        for b in range(2, 10):
            p = a * b
            fam["mul"].append(
                _num_item(
                    f"What is {a} times {b}?",
                    p,
                    [p + a, p - a, p + b, p - b, a + b, p + 1, p - 1],
                    rng,
                )
            )
    for n in range(4, 61, 2):
        h = n // 2
        fam["half"].append(_num_item(f"What is half of {n}?", h, [n, h + 1, h - 1, n * 2], rng))
    for n in range(2, 31):
        fam["double"].append(
            _num_item(f"What is double {n}?", 2 * n, [n, 2 * n + 1, 2 * n - 1, n + 2], rng)
        )
    words: list[Item] = []
    for name in WP_NAMES:
        for thing in WP_THINGS:
            a, b = rng.randrange(2, 10), rng.randrange(2, 10)
            kind = rng.randrange(3)
            if kind == 0:
                q = (
                    f"{name} has {a} {thing} and buys {b} more. "
                    f"How many {thing} does {name} have now?"
                )
                words.append(_num_item(q, a + b, [a + b + 1, a + b - 1, abs(a - b), a * b], rng))
            elif kind == 1:
                a += b  # so the answer is positive
                q = (
                    f"{name} has {a} {thing} and gives {b} away. "
                    f"How many {thing} does {name} have left?"
                )
                words.append(_num_item(q, a - b, [a - b + 1, a - b - 1, a + b, a], rng))
            else:
                plural, single = rng.choice(WP_CONTAINERS)
                a, b = rng.randrange(2, 6), rng.randrange(2, 6)
                q = (
                    f"There are {a} {plural} with {b} {thing} in each {single}. "
                    f"How many {thing} are there in total?"
                )
                words.append(_num_item(q, a * b, [a + b, a * b + 1, a * b - 1, a * b + a], rng))
    return [
        *_take(rng, fam["add"], 55, "add"),
        *_take(rng, fam["sub"], 55, "sub"),
        *_take(rng, fam["mul"], 45, "mul"),
        *_take(rng, fam["half"], 20, "half"),
        *_take(rng, fam["double"], 20, "double"),
        *_take(rng, words, 55, "word problems"),
    ]


# ---- factual recall --------------------------------------------------------------------------

# (country, capital, continent); continent None where it is not clear-cut for this suite
COUNTRIES: list[tuple[str, str, str | None]] = [
    ("France", "Paris", "Europe"), ("Germany", "Berlin", "Europe"), ("Italy", "Rome", "Europe"),
    ("Spain", "Madrid", "Europe"), ("Portugal", "Lisbon", "Europe"),
    ("Greece", "Athens", "Europe"), ("Ireland", "Dublin", "Europe"),
    ("Norway", "Oslo", "Europe"), ("Sweden", "Stockholm", "Europe"),
    ("Poland", "Warsaw", "Europe"), ("Austria", "Vienna", "Europe"),
    ("Hungary", "Budapest", "Europe"), ("the Czech Republic", "Prague", "Europe"),
    ("Denmark", "Copenhagen", "Europe"), ("Finland", "Helsinki", "Europe"),
    ("Belgium", "Brussels", "Europe"), ("Romania", "Bucharest", "Europe"),
    ("Ukraine", "Kyiv", "Europe"), ("Iceland", "Reykjavik", "Europe"),
    ("Japan", "Tokyo", "Asia"), ("China", "Beijing", "Asia"), ("India", "New Delhi", "Asia"),
    ("South Korea", "Seoul", "Asia"), ("Thailand", "Bangkok", "Asia"),
    ("Vietnam", "Hanoi", "Asia"), ("the Philippines", "Manila", "Asia"),
    ("Iran", "Tehran", "Asia"), ("Iraq", "Baghdad", "Asia"),
    ("Saudi Arabia", "Riyadh", "Asia"), ("Nepal", "Kathmandu", "Asia"),
    ("Mongolia", "Ulaanbaatar", "Asia"), ("Pakistan", "Islamabad", "Asia"),
    ("Kenya", "Nairobi", "Africa"), ("Nigeria", "Abuja", "Africa"),
    ("Ethiopia", "Addis Ababa", "Africa"), ("Ghana", "Accra", "Africa"),
    ("Morocco", "Rabat", "Africa"), ("Uganda", "Kampala", "Africa"),
    ("Senegal", "Dakar", "Africa"), ("Egypt", "Cairo", None),
    ("Canada", "Ottawa", "North America"), ("Mexico", "Mexico City", "North America"),
    ("Cuba", "Havana", "North America"),
    ("Brazil", "Brasília", "South America"), ("Argentina", "Buenos Aires", "South America"),
    ("Peru", "Lima", "South America"), ("Chile", "Santiago", "South America"),
    ("Colombia", "Bogotá", "South America"), ("Venezuela", "Caracas", "South America"),
    ("Uruguay", "Montevideo", "South America"), ("Ecuador", "Quito", "South America"),
    ("New Zealand", "Wellington", None), ("Russia", "Moscow", None),
    ("Turkey", "Ankara", None),
]  # fmt: skip
CONTINENTS = ["Europe", "Asia", "Africa", "North America", "South America", "Antarctica"]

ANIMAL_CLASSES: dict[str, list[str]] = {
    "a mammal": [
        "a dog", "a cat", "a horse", "a cow", "a whale", "a dolphin", "a bat", "an elephant",
        "a lion", "a mouse", "a rabbit", "a bear",
    ],
    "a bird": [
        "an eagle", "a penguin", "an owl", "a parrot", "an ostrich", "a duck", "a sparrow",
        "a swan",
    ],
    "a fish": ["a shark", "a salmon", "a trout", "a goldfish", "a tuna", "a cod"],
    "a reptile": ["a snake", "a lizard", "a crocodile", "a turtle", "a tortoise", "an iguana"],
    "an insect": ["an ant", "a bee", "a butterfly", "a beetle", "a grasshopper", "a mosquito"],
}  # fmt: skip
ELEMENTS = [
    ("hydrogen", "H"), ("carbon", "C"), ("nitrogen", "N"), ("helium", "He"), ("sodium", "Na"),
    ("potassium", "K"), ("calcium", "Ca"), ("copper", "Cu"), ("lead", "Pb"), ("zinc", "Zn"),
    ("sulfur", "S"), ("chlorine", "Cl"), ("neon", "Ne"), ("magnesium", "Mg"),
    ("aluminium", "Al"), ("tin", "Sn"), ("mercury", "Hg"), ("uranium", "U"), ("silicon", "Si"),
    ("phosphorus", "P"), ("gold", "Au"), ("silver", "Ag"), ("iron", "Fe"), ("oxygen", "O"),
]  # fmt: skip
LEGS = [
    ("a cat", 4), ("a horse", 4), ("a cow", 4), ("an elephant", 4), ("a chicken", 2),
    ("a duck", 2), ("an ostrich", 2), ("a penguin", 2), ("an ant", 6), ("a bee", 6),
    ("a beetle", 6), ("a butterfly", 6), ("a scorpion", 8), ("a snake", 0), ("a sheep", 4),
    ("a goat", 4), ("a pig", 4), ("an owl", 2),
]  # fmt: skip
COLOUR_FACTS = [
    ("What colour is a ripe banana?", "yellow"), ("What colour is fresh snow?", "white"),
    ("What colour is coal?", "black"), ("What colour is a ripe tomato?", "red"),
    ("What colour is milk?", "white"), ("What colour is a carrot?", "orange"),
    ("What colour is a ripe lemon?", "yellow"), ("What colour is milk chocolate?", "brown"),
    ("What colour do you get by mixing blue and yellow?", "green"),
    ("What colour do you get by mixing red and white?", "pink"),
    ("What colour do you get by mixing red and yellow?", "orange"),
    ("What colour do you get by mixing red and blue?", "purple"),
    ("What colour do you get by mixing black and white?", "grey"),
    ("What colour are most leaves in summer?", "green"),
]  # fmt: skip
FACT_COLOURS = ["red", "blue", "green", "yellow", "white", "black", "orange", "purple", "brown"]
SHAPES = [
    ("a square", 4), ("a pentagon", 5), ("an octagon", 8), ("a rectangle", 4),
    ("a decagon", 10),
]  # fmt: skip
SEASONS = ["spring", "summer", "autumn", "winter"]
ORDINALS = [
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
    "tenth", "eleventh", "twelfth",
]  # fmt: skip
MONTH_DAYS = {
    "January": 31, "March": 31, "April": 30, "May": 31, "June": 30, "July": 31, "August": 31,
    "September": 30, "October": 31, "November": 30, "December": 31,
}  # fmt: skip


def _factual(rng: random.Random) -> list[Item]:
    hand = list(FACTS)
    hand_qs = {it[0] for it in hand}
    capitals = [cap for _, cap, _ in COUNTRIES]
    cap_items: list[Item] = []
    cont_items: list[Item] = []
    for country, cap, cont in COUNTRIES:
        q = f"What is the capital of {country}?"
        if q not in hand_qs:
            cap_items.append((q, cap, *_others(rng, cap, capitals)))
        q = f"On which continent is {country}?"
        if cont is not None and q not in hand_qs:
            cont_items.append((q, cont, *_others(rng, cont, CONTINENTS)))
    classes = sorted(ANIMAL_CLASSES)
    class_items: list[Item] = []
    for cls in classes:
        for animal in ANIMAL_CLASSES[cls]:
            q = f"What kind of animal is {animal}?"
            class_items.append((q, cls, *_others(rng, cls, classes)))
    symbols = [s for _, s in ELEMENTS]
    elem_items: list[Item] = []
    for name, sym in ELEMENTS:
        q = f"What is the chemical symbol for {name}?"
        if q not in hand_qs:
            elem_items.append((q, sym, *_others(rng, sym, symbols)))
    misc: list[Item] = []
    for animal, n in LEGS:
        misc.append((f"How many legs does {animal} have?", str(n), *_others(rng, str(n), "024681")))
    for q, col in COLOUR_FACTS:
        misc.append((q, col, *_others(rng, col, FACT_COLOURS)))
    for shape, n in SHAPES:
        near = [str(x) for x in (n - 1, n + 1, n + 2, n - 2)]
        misc.append((f"How many sides does {shape} have?", str(n), *rng.sample(near, 3)))
    for i, s in enumerate(SEASONS):
        nxt, opp = SEASONS[(i + 1) % 4], SEASONS[(i + 2) % 4]
        misc.append((f"Which season comes after {s}?", nxt, *(x for x in SEASONS if x != nxt)))
        misc.append(
            (
                f"When it is {s} in the Northern Hemisphere, which season is it in the "
                "Southern Hemisphere?",
                opp,
                *(x for x in SEASONS if x != opp),
            )
        )
    for m, days in MONTH_DAYS.items():
        other = "30" if days == 31 else "31"
        misc.append((f"How many days are there in {m}?", str(days), other, "28", "35"))
    month_items: list[Item] = []
    for i, m in enumerate(MONTHS):
        nxt, prev = MONTHS[(i + 1) % 12], MONTHS[(i - 1) % 12]
        month_items.append(
            (f"Which month comes after {m}?", nxt, prev, *_others(rng, nxt, MONTHS)[:2])
        )
        month_items.append(
            (
                f"Which month comes before {m}?",
                prev,
                nxt,
                *_others(rng, prev, [x for x in MONTHS if x != nxt])[:2],
            )
        )
        month_items.append(
            (f"Which is the {ORDINALS[i]} month of the year?", m, *_others(rng, m, MONTHS))
        )
    items = [
        *hand,
        *_take(rng, cap_items, 30, "capitals"),
        *_take(rng, cont_items, 30, "continents"),
        *_take(rng, class_items, 30, "animal classes"),
        *_take(rng, elem_items, 18, "elements"),
        *_take(rng, misc, len(misc), "misc facts"),
    ]
    items.extend(_take(rng, month_items, PER_CAPABILITY - len(items), "months"))
    return items


# ---- commonsense -----------------------------------------------------------------------------

# Comparison tables: (question adjective for the bigger side, for the smaller side, tiers).
# Only pairs at least two tiers apart are asked, so the answer is obvious.
COMPARE_TIERS: list[tuple[str, str, list[list[str]]]] = [
    (
        "heavier",
        "lighter",
        [
            ["a feather", "a paper clip", "a leaf", "a postage stamp"],
            ["an apple", "an egg", "a pencil", "a spoon", "a sock"],
            ["a brick", "a cat", "a watermelon", "a bowling ball"],
            ["an adult person", "a sofa", "a refrigerator", "a sheep"],
            ["a horse", "a cow", "a car", "a piano"],
            ["an elephant", "a bus", "a loaded truck", "a blue whale"],
        ],
    ),
    (
        "bigger",
        "smaller",
        [
            ["an ant", "a grain of sand", "a pea", "a button", "a coin"],
            ["an apple", "a mouse", "a cup", "a shoe"],
            ["a dog", "a chair", "a suitcase", "a bicycle"],
            ["a car", "a horse", "a cow"],
            ["a house", "a passenger jet", "a blue whale"],
            ["a mountain", "a city", "a country"],
        ],
    ),
    (
        "faster",
        "slower",
        [
            ["a snail", "a tortoise", "a slug"],
            ["a person walking", "a rowing boat"],
            ["a person riding a bicycle", "a person running"],
            ["a car on a motorway", "a high-speed train", "a cheetah"],
            ["a passenger jet", "a space rocket"],
        ],
    ),
    (
        "hotter",
        "colder",
        [
            ["an ice cube", "a snowball", "a bowl of ice cream", "a frozen pond"],
            ["a glass of cool water"],
            ["a cup of hot tea", "boiling water", "a campfire", "a hot oven"],
        ],
    ),
]

# (tool, what it is used for, group); distractor uses come from other groups only
TOOLS: list[tuple[str, str, str]] = [
    ("a hammer", "hitting nails into wood", "build"),
    ("a saw", "cutting wood", "build"),
    ("a screwdriver", "turning screws", "build"),
    ("a broom", "sweeping the floor", "clean"),
    ("a ladder", "reaching high places", "reach"),
    ("a kettle", "boiling water", "heat"),
    ("an oven", "baking bread", "heat"),
    ("a toothbrush", "cleaning your teeth", "body"),
    ("a comb", "tidying your hair", "body"),
    ("a towel", "drying yourself after a bath", "body"),
    ("a needle and thread", "sewing clothes", "sew"),
    ("a refrigerator", "keeping food cold", "cold"),
    ("a map", "finding your way", "info"),
    ("a watch", "telling the time", "info"),
    ("a paintbrush", "painting pictures", "art"),
    ("a bucket", "carrying water", "garden"),
    ("a calculator", "doing sums", "info"),
    ("a dictionary", "looking up what words mean", "info"),
    ("a microscope", "seeing very small things", "see"),
    ("a telescope", "looking at faraway stars", "see"),
    ("a pillow", "resting your head in bed", "rest"),
    ("a wallet", "keeping your money in", "carry"),
    ("glue", "sticking things together", "art"),
    ("a ruler", "measuring length", "info"),
    ("a fan", "cooling the air", "cold"),
    ("a spade", "digging in the garden", "garden"),
    ("a watering can", "watering plants", "garden"),
    ("soap", "washing your hands", "clean"),
    ("an alarm clock", "waking you up in the morning", "wake"),
    ("a lamp", "lighting a dark room", "light"),
]

ROOMS = ["the kitchen", "the bathroom", "the bedroom", "the garage"]
ROOM_THINGS = [
    ("a cooker", "the kitchen"), ("a refrigerator", "the kitchen"),
    ("a toaster", "the kitchen"), ("a bathtub", "the bathroom"),
    ("a toilet", "the bathroom"), ("a shower", "the bathroom"), ("a bed", "the bedroom"),
    ("a wardrobe of clothes", "the bedroom"), ("the family car", "the garage"),
]  # fmt: skip

# (what you want to do, the place, places that would also be a fair answer)
PLACES: list[tuple[str, str, tuple[str, ...]]] = [
    ("see lions, zebras and giraffes up close in a city", "a zoo", ()),
    ("catch a train", "a railway station", ("an airport",)),
    ("catch a plane", "an airport", ()),
    ("watch a new film on a big screen", "a cinema", ()),
    ("send a parcel", "a post office", ()),
    ("buy a week's groceries", "a supermarket", ("a petrol station",)),
    ("build sandcastles by the sea", "a beach", ()),
    ("open a savings account", "a bank", ("a post office",)),
    ("look at old paintings and statues", "a museum", ()),
    ("play on swings and slides", "a playground", ("a school",)),
    ("get a haircut", "a hairdresser's", ()),
    ("buy medicine with a prescription", "a pharmacy", ("a supermarket",)),
    ("watch a big football match", "a stadium", ()),
    ("fill a car with petrol", "a petrol station", ("a supermarket",)),
    ("learn to read as a young child", "a school", ("a library",)),
]

COMMONSENSE_MORE: list[Item] = [
    ("What do you wear on your head to keep the sun off?", "a hat", "a sock", "a glove", "a belt"),
    ("What do you need to light a candle?", "a match", "an ice cube", "a sponge", "a spoon"),
    ("Where do you put dirty clothes to clean them?", "in the washing machine", "in the oven",
     "in the fridge", "in the bin"),
    ("What should you do when a baby is crying because it is hungry?", "feed it",
     "shout at it", "leave the house", "turn off the lights"),
    ("What do people usually do when they hear a funny joke?", "laugh", "cry", "sneeze",
     "shiver"),
    ("What happens to butter left in a hot pan?", "It melts.", "It freezes.",
     "It turns into bread.", "It becomes a stone."),
    ("What do you need to open a locked car?", "its key", "a spoon", "a pillow", "a stamp"),
    ("Which is safer to hold, a teddy bear or a sharp knife?", "a teddy bear", "a sharp knife"),
    ("Which is more likely to float on water, a wooden stick or an iron bar?",
     "a wooden stick", "an iron bar"),
    ("What do you use to dry wet hair?", "a hair dryer", "a freezer", "a candle", "a fork"),
    ("What do you do with a letter after writing it, to send it?", "post it", "eat it",
     "plant it", "freeze it"),
    ("What do people use to pay for things in a shop?", "money", "leaves", "sand", "water"),
    ("Where does rain come from?", "clouds", "the ground", "trees", "houses"),
    ("What do you put on toast to make it taste sweet?", "jam", "salt", "sand", "soap"),
    ("What should you do if you see a fire in a building?", "call the fire service",
     "go back to sleep", "add more wood", "hide in a cupboard"),
    ("Which month is usually colder in Canada, January or July?", "January", "July"),
    ("What do you usually do at a birthday party?", "eat cake", "take an exam",
     "mow the lawn", "pay taxes"),
    ("How does ice cream feel when you touch it?", "cold", "hot", "sharp", "loud"),
    ("Why do people carry umbrellas on cloudy days?", "in case it rains",
     "to look taller", "to carry food", "to tell the time"),
    ("What do you do when the phone rings?", "answer it", "eat it", "water it", "paint it"),
    ("What do you need to play football?", "a ball", "a pillow", "a kettle", "a candle"),
    ("Which is better for cutting bread, a knife or a spoon?", "a knife", "a spoon"),
    ("What do people usually eat soup from?", "a bowl", "a shoe", "a hat", "a bag"),
    ("If a cup is full and you keep pouring water into it, what happens?",
     "The water spills over.", "The cup gets bigger.", "The water disappears.",
     "The cup turns to ice."),
    ("When do most people eat dinner?", "in the evening", "at dawn", "at midnight",
     "before breakfast"),
    ("What do you do with a book?", "read it", "drink it", "wear it", "plant it"),
    ("What is a chair for?", "sitting on", "cooking", "swimming", "writing"),
    ("What should you wear in a snowstorm?", "a warm coat", "a swimsuit", "sandals",
     "a paper hat"),
    ("What do hens lay?", "eggs", "milk", "wool", "honey"),
    ("Which animal gives us wool?", "a sheep", "a fish", "a snake", "a frog"),
]  # fmt: skip


def _commonsense(rng: random.Random) -> list[Item]:
    hand = list(COMMONSENSE) + list(COMMONSENSE_MORE)
    compare: dict[str, list[Item]] = {}
    for big_adj, small_adj, tiers in COMPARE_TIERS:
        pool: list[Item] = []
        for i, lower in enumerate(tiers):
            for upper in tiers[i + 2 :]:
                for small in lower:
                    for big in upper:
                        ask_big = rng.random() < 0.5
                        pair = [big, small]
                        rng.shuffle(pair)
                        adj = big_adj if ask_big else small_adj
                        q = f"Which is {adj}, {pair[0]} or {pair[1]}?"
                        pool.append((q, big, small) if ask_big else (q, small, big))
        compare[big_adj] = pool
    uses = [u for _, u, _ in TOOLS]
    tools = [t for t, _, _ in TOOLS]
    tool_items: list[Item] = []
    for tool, use, group in TOOLS:
        bad_uses = [u for _, u, g in TOOLS if g != group]
        bad_tools = [t for t, _, g in TOOLS if g != group]
        assert use in uses and tool in tools
        tool_items.append((f"What is {tool} used for?", use, *rng.sample(bad_uses, 3)))
        tool_items.append(
            (f"Which of these would you use for {use}?", tool, *rng.sample(bad_tools, 3))
        )
    where: list[Item] = []
    for thing, room in ROOM_THINGS:
        where.append(
            (f"In which room of a house would you usually find {thing}?", room,
             *(r for r in ROOMS if r != room))
        )  # fmt: skip
    all_places = [p for _, p, _ in PLACES]
    for want, place, also in PLACES:
        bad = [p for p in all_places if p != place and p not in also]
        where.append((f"Where would you go to {want}?", place, *rng.sample(bad, 3)))
    return [
        *hand,
        *_take(rng, compare["heavier"], 30, "heavier"),
        *_take(rng, compare["bigger"], 30, "bigger"),
        *_take(rng, compare["faster"], 24, "faster"),
        *_take(rng, compare["hotter"], 16, "hotter"),
        *_take(rng, tool_items, 48, "tools"),
        *_take(rng, where, 24, "where"),
    ]


# ---- logic -----------------------------------------------------------------------------------

PEOPLE = [
    "Tom", "Ann", "Bob", "Sara", "Liam", "Mia", "Omar", "Zoe", "Ivan", "Lucy",
    "Raj", "Nina", "Paul", "Eva", "Sam", "Kate", "Leo", "Ruth", "Hana", "Carl",
]  # fmt: skip
# comparative, superlative of the top, superlative of the bottom
RELATIONS = [
    ("taller", "tallest", "shortest"),
    ("older", "oldest", "youngest"),
    ("faster", "fastest", "slowest"),
    ("heavier", "heaviest", "lightest"),
    ("stronger", "strongest", "weakest"),
    ("younger", "youngest", "oldest"),
    ("shorter", "shortest", "tallest"),
    ("richer", "richest", "poorest"),
]
NONSENSE_KINDS = [
    "wugs", "daxes", "blickets", "feps", "zorbs", "glims", "toves", "kliffs", "flurbs", "norps",
    "jints", "plonks", "grobs", "snarps", "yorbs", "trulls",
]  # fmt: skip
REAL_SYLLOGISMS = [  # (X plural, X singular, Y plural, Y singular)
    ("dogs", "a dog", "animals", "an animal"),
    ("roses", "a rose", "flowers", "a flower"),
    ("oaks", "an oak", "trees", "a tree"),
    ("sparrows", "a sparrow", "birds", "a bird"),
    ("trout", "a trout", "fish", "a fish"),
    ("apples", "an apple", "fruits", "a fruit"),
]
PET_NAMES = ["Rex", "Pip", "Max", "Luna", "Bo", "Kiki", "Fred", "Milo", "Tess", "Olly"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight"]
# (if-clause, then-clause, fact that the if-clause holds, question about the then-clause,
#  fact that the then-clause fails, question about the if-clause)
CONDITIONALS = [
    ("it rains", "the ground gets wet", "It is raining.", "Is the ground wet?",
     "The ground is not wet.", "Is it raining?"),
    ("the light is red", "the cars stop", "The light is red.", "Do the cars stop?",
     "The cars do not stop.", "Is the light red?"),
    ("Mia is hungry", "she eats an apple", "Mia is hungry.", "Does Mia eat an apple?",
     "Mia does not eat an apple.", "Is Mia hungry?"),
    ("the bell rings", "the class ends", "The bell rings.", "Does the class end?",
     "The class does not end.", "Does the bell ring?"),
    ("Tom wins the race", "he gets a medal", "Tom wins the race.", "Does Tom get a medal?",
     "Tom does not get a medal.", "Does Tom win the race?"),
    ("the shop is open", "the lights are on", "The shop is open.", "Are the lights on?",
     "The lights are not on.", "Is the shop open?"),
    ("a zorb is blue", "it can fly", "This zorb is blue.", "Can this zorb fly?",
     "This zorb cannot fly.", "Is this zorb blue?"),
    ("a wug sings", "it is happy", "This wug sings.", "Is this wug happy?",
     "This wug is not happy.", "Does this wug sing?"),
    ("the oven is on", "the kitchen is warm", "The oven is on.", "Is the kitchen warm?",
     "The kitchen is not warm.", "Is the oven on?"),
    ("it snows", "school is closed", "It is snowing.", "Is school closed?",
     "School is not closed.", "Is it snowing?"),
    ("Sam presses the button", "the door opens", "Sam presses the button.",
     "Does the door open?", "The door does not open.", "Does Sam press the button?"),
    ("a blicket is wet", "it glows", "This blicket is wet.", "Does this blicket glow?",
     "This blicket does not glow.", "Is this blicket wet?"),
    ("the dog barks", "the cat runs away", "The dog barks.", "Does the cat run away?",
     "The cat does not run away.", "Does the dog bark?"),
    ("Ann finishes her homework", "she watches TV", "Ann finishes her homework.",
     "Does Ann watch TV?", "Ann does not watch TV.", "Does Ann finish her homework?"),
    ("the alarm rings", "Ivan wakes up", "The alarm rings.", "Does Ivan wake up?",
     "Ivan does not wake up.", "Does the alarm ring?"),
    ("a fep is small", "it is fast", "This fep is small.", "Is this fep fast?",
     "This fep is not fast.", "Is this fep small?"),
]  # fmt: skip


def _singular(plural: str) -> str:
    return plural[:-2] if plural.endswith("xes") else plural[:-1]


def _article(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _logic(rng: random.Random) -> list[Item]:
    orders: list[Item] = []
    for k in range(400):
        comp, top, bottom = RELATIONS[k % len(RELATIONS)]
        a, b, c = rng.sample(PEOPLE, 3)  # a > b > c
        facts = [f"{a} is {comp} than {b}.", f"{b} is {comp} than {c}."]
        if rng.random() < 0.5:
            facts.reverse()
        ask = k % 3
        if ask == 2:
            q = f"{' '.join(facts)} Who is neither the {top} nor the {bottom}?"
            orders.append((q, b, a, c))
        else:
            q = f"{' '.join(facts)} Who is the {top if ask == 0 else bottom}?"
            ans = a if ask == 0 else c
            orders.append((q, ans, *(x for x in (a, b, c) if x != ans)))
    # yes/no syllogisms: two "Yes" forms and two "No" forms, used equally
    syl: dict[str, list[Item]] = {f: [] for f in ("all_yes", "none_no", "chain_yes", "tol_no")}
    for k in range(200):
        form = list(syl)[k % 4]
        name = PET_NAMES[k % len(PET_NAMES)]
        xp, yp, zp = rng.sample(NONSENSE_KINDS, 3)
        xs, ys = _article(_singular(xp)), _article(_singular(yp))
        if form == "all_yes" and k % 8 == 0:  # some with real categories
            xp, xs, yp, ys = REAL_SYLLOGISMS[(k // 8) % len(REAL_SYLLOGISMS)]
        if form == "all_yes":
            q, ans = f"All {xp} are {yp}. {name} is {xs}. Is {name} {ys}?", "Yes"
        elif form == "none_no":
            q, ans = f"No {xp} are {yp}. {name} is {xs}. Is {name} {ys}?", "No"
        elif form == "chain_yes":
            q, ans = f"All {xp} are {yp}. All {yp} are {zp}. Are all {xp} {zp}?", "Yes"
        else:
            q, ans = f"All {xp} are {yp}. {name} is not {ys}. Is {name} {xs}?", "No"
        syl[form].append((q, ans, "No" if ans == "Yes" else "Yes"))
    cond: list[Item] = []
    for if_c, then_c, fact_if, q_then, fact_not_then, q_if in CONDITIONALS:
        rule = f"If {if_c}, {then_c}."
        cond.append((f"{rule} {fact_if} {q_then}", "Yes", "No"))
        cond.append((f"{rule} {fact_not_then} {q_if}", "No", "Yes"))
    queue: list[Item] = []
    for name in PEOPLE:
        n = rng.randrange(4, 9)
        k = rng.randrange(2, n)
        q = (
            f"{n} children stand in a line. {name} is number {k} from the front. "
            f"How many children are in front of {name}?"
        )
        queue.append(_num_item(q, k - 1, [k, k + 1, n - k, k - 2, n], rng))
        q = (
            f"{n} people wait in a queue. {name} is number {k} from the front. "
            f"How many people are behind {name}?"
        )
        queue.append(_num_item(q, n - k, [n - k + 1, n - k - 1, k, k - 1, n], rng))
    days: list[Item] = []
    for d, day in enumerate(DAYS):
        for step in range(1, 7):
            ans = DAYS[(d + step) % 7]
            when = "tomorrow" if step == 1 else f"in {NUMBER_WORDS[step]} days"
            near = [DAYS[(d + step + j) % 7] for j in (1, -1, 2, -2)]
            days.append((f"If today is {day}, what day will it be {when}?", ans, *near[:3]))
        for step in range(1, 4):
            ans = DAYS[(d - step) % 7]
            when = "yesterday" if step == 1 else f"{NUMBER_WORDS[step]} days ago"
            near = [DAYS[(d - step + j) % 7] for j in (1, -1, 2)]
            days.append((f"If today is {day}, what day was it {when}?", ans, *near))
    return [
        *_take(rng, orders, 80, "orderings"),
        *(it for form in syl.values() for it in _take(rng, form, 12, "syllogisms")),
        *_take(rng, cond, 32, "conditionals"),
        *_take(rng, queue, 36, "line positions"),
        *_take(rng, days, 54, "days"),
    ]


# ---- language --------------------------------------------------------------------------------

ANTONYMS: list[tuple[str, str]] = [
    ("hot", "cold"), ("big", "small"), ("up", "down"), ("happy", "sad"), ("fast", "slow"),
    ("early", "late"), ("full", "empty"), ("young", "old"), ("strong", "weak"), ("day", "night"),
    ("wet", "dry"), ("loud", "quiet"), ("tall", "short"), ("rich", "poor"), ("clean", "dirty"),
    ("win", "lose"), ("thick", "thin"), ("true", "false"), ("push", "pull"), ("buy", "sell"),
    ("above", "below"), ("inside", "outside"), ("black", "white"), ("north", "south"),
    ("east", "west"), ("give", "take"), ("come", "go"), ("laugh", "cry"), ("love", "hate"),
    ("always", "never"), ("before", "after"), ("first", "last"), ("top", "bottom"),
    ("front", "back"), ("arrive", "leave"), ("asleep", "awake"), ("alive", "dead"),
    ("safe", "dangerous"), ("cheap", "expensive"), ("easy", "difficult"), ("friend", "enemy"),
    ("question", "answer"), ("remember", "forget"), ("accept", "refuse"), ("boy", "girl"),
    ("brother", "sister"), ("king", "queen"), ("husband", "wife"), ("summer", "winter"),
    ("open", "closed"), ("on", "off"), ("yes", "no"), ("in", "out"), ("borrow", "lend"),
    ("smooth", "rough"), ("wide", "narrow"), ("deep", "shallow"), ("sharp", "blunt"),
    ("tight", "loose"), ("heavy", "light"), ("hard", "soft"), ("entrance", "exit"),
    ("ancient", "modern"), ("polite", "rude"), ("visible", "invisible"),
    ("possible", "impossible"),
]  # fmt: skip
# answers that are near-opposites of each other's question words: never used as distractors
# for one another
ANTONYM_GROUPS = [
    {"down", "below", "bottom"}, {"out", "outside", "off"}, {"after", "last", "late"},
    {"small", "short", "thin", "narrow", "shallow"}, {"no", "never", "false"},
    {"girl", "sister", "queen", "wife"}, {"leave", "go"}, {"weak", "soft", "light"},
    {"poor", "cheap"}, {"winter", "cold"}, {"sad", "cry"}, {"dirty", "rough"}, {"lose", "refuse"},
]  # fmt: skip

PLURALS: list[tuple[str, str]] = [
    ("ox", "oxen"), ("wolf", "wolves"), ("wife", "wives"), ("life", "lives"),
    ("loaf", "loaves"), ("shelf", "shelves"), ("thief", "thieves"),
    ("potato", "potatoes"), ("tomato", "tomatoes"),
    ("dish", "dishes"), ("church", "churches"), ("watch", "watches"), ("fox", "foxes"),
    ("party", "parties"), ("lady", "ladies"), ("story", "stories"), ("country", "countries"),
    ("puppy", "puppies"), ("key", "keys"), ("toy", "toys"), ("day", "days"), ("boy", "boys"),
    ("monkey", "monkeys"), ("deer", "deer"), ("cherry", "cherries"), ("family", "families"),
    ("brush", "brushes"), ("class", "classes"), ("wish", "wishes"), ("lunch", "lunches"),
    ("piano", "pianos"), ("photo", "photos"), ("radio", "radios"), ("cat", "cats"),
    ("tree", "trees"), ("house", "houses"),
]  # fmt: skip

# irregular (verb, past) pairs plus a few regular ones with spelling changes
PAST_TENSES: list[tuple[str, str]] = [
    ("sleep", "slept"), ("keep", "kept"), ("feel", "felt"), ("leave", "left"), ("meet", "met"),
    ("sit", "sat"), ("stand", "stood"), ("tell", "told"), ("sell", "sold"), ("find", "found"),
    ("hold", "held"), ("win", "won"), ("begin", "began"), ("break", "broke"),
    ("choose", "chose"), ("freeze", "froze"), ("steal", "stole"), ("forget", "forgot"),
    ("know", "knew"), ("grow", "grew"), ("throw", "threw"), ("draw", "drew"), ("blow", "blew"),
    ("fall", "fell"), ("ride", "rode"), ("shake", "shook"), ("wear", "wore"), ("bite", "bit"),
    ("hide", "hid"), ("make", "made"), ("say", "said"), ("send", "sent"),
    ("build", "built"), ("spend", "spent"), ("lose", "lost"), ("hear", "heard"),
    ("come", "came"), ("cook", "cooked"), ("jump", "jumped"), ("open", "opened"),
    ("dance", "danced"), ("cry", "cried"), ("stop", "stopped"), ("try", "tried"),
    ("carry", "carried"), ("smile", "smiled"),
]  # fmt: skip
DOUBLE_FINAL = {"sit", "win", "begin", "stop", "forget", "run", "swim", "get"}

SYNONYMS: list[Item] = [
    ("Which word means the same as 'little'?", "small", "huge", "loud", "happy"),
    ("Which word means the same as 'angry'?", "cross", "calm", "pleased", "sleepy"),
    ("Which word means the same as 'tired'?", "sleepy", "lively", "hungry", "clean"),
    ("Which word means the same as 'scared'?", "afraid", "brave", "bored", "tall"),
    ("Which word means the same as 'sad'?", "unhappy", "cheerful", "fast", "loud"),
    ("Which word means the same as 'fix'?", "repair", "break", "lose", "forget"),
    ("Which word means the same as 'purchase'?", "buy", "sell", "sleep", "throw"),
    ("Which word means the same as 'talk'?", "speak", "listen", "sleep", "walk"),
    ("Which word means the same as 'shop'?", "store", "field", "river", "cloud"),
    ("Which word means the same as 'mistake'?", "error", "success", "gift", "song"),
    ("Which word means the same as 'sofa'?", "couch", "table", "lamp", "window"),
    ("Which word means the same as 'stone'?", "rock", "leaf", "feather", "cloud"),
    ("Which word means the same as 'reply'?", "answer", "ask", "forget", "sleep"),
    ("Which word means the same as 'beautiful'?", "pretty", "ugly", "loud", "slow"),
    ("Which word means the same as 'hurry'?", "rush", "wait", "rest", "sleep"),
    ("Which word means the same as 'help'?", "assist", "hinder", "ignore", "forget"),
    ("Which word means the same as 'huge'?", "enormous", "tiny", "narrow", "quiet"),
    ("Which word means the same as 'slim'?", "thin", "fat", "wide", "tall"),
    ("Which word means the same as 'difficult'?", "hard", "easy", "soft", "quick"),
    ("Which word means the same as 'pupil'?", "student", "teacher", "doctor", "driver"),
    ("Which word means the same as 'throw'?", "toss", "catch", "hold", "keep"),
    ("Which word means the same as 'smile'?", "grin", "frown", "cry", "shout"),
    ("Which word means the same as 'jump'?", "leap", "sit", "sleep", "crawl"),
    ("Which word means the same as 'near'?", "close", "far", "above", "late"),
    ("Which word means the same as 'end'?", "finish", "start", "open", "grow"),
    ("Which word means the same as 'look'?", "watch", "hear", "smell", "taste"),
    ("Which word means the same as 'cold'?", "chilly", "hot", "warm", "sunny"),
    ("Which word means the same as 'funny'?", "amusing", "serious", "boring", "sad"),
    ("Which word means the same as 'road'?", "street", "river", "cloud", "forest"),
    ("Which word means the same as 'kind'?", "nice", "cruel", "rude", "mean"),
]  # fmt: skip

RHYME_GROUPS = [
    ["cat", "hat", "bat", "mat"], ["dog", "log", "frog"], ["sun", "fun", "run"],
    ["cake", "lake", "make"], ["ring", "king", "sing"], ["night", "kite", "light"],
    ["boat", "coat", "goat"], ["bed", "red", "head"], ["rain", "train", "chain"],
    ["star", "car", "jar"], ["moon", "spoon", "soon"], ["house", "mouse"],
    ["fish", "dish", "wish"], ["hill", "pill", "fill"], ["book", "cook", "look"],
    ["bear", "chair", "hair"], ["gold", "cold", "old"], ["play", "day", "say"],
    ["bee", "tree", "see"], ["pen", "ten", "hen"],
]  # fmt: skip

# (adjective, comparative, superlative, a wrong form)
DEGREES = [
    ("big", "bigger", "biggest", "biger"), ("small", "smaller", "smallest", "more small"),
    ("tall", "taller", "tallest", "more tall"), ("good", "better", "best", "gooder"),
    ("bad", "worse", "worst", "badder"), ("fast", "faster", "fastest", "more fast"),
    ("happy", "happier", "happiest", "happyer"), ("hot", "hotter", "hottest", "hoter"),
    ("easy", "easier", "easiest", "easyer"), ("young", "younger", "youngest", "more young"),
    ("cold", "colder", "coldest", "more cold"), ("long", "longer", "longest", "more long"),
    ("heavy", "heavier", "heaviest", "heavyer"), ("funny", "funnier", "funniest", "funnyer"),
    ("nice", "nicer", "nicest", "niceer"), ("wet", "wetter", "wettest", "weter"),
    ("thin", "thinner", "thinnest", "thiner"), ("sad", "sadder", "saddest", "sader"),
    ("strong", "stronger", "strongest", "more strong"), ("fat", "fatter", "fattest", "fater"),
]  # fmt: skip
LETTER_QUIZ_WORDS = [
    "garden", "window", "pencil", "rabbit", "orange", "kitchen", "morning", "blanket",
    "elephant", "mountain", "butterfly", "yellow", "umbrella", "jacket", "violin", "zebra",
    "honey", "island", "lemon", "turtle", "queen", "dragon", "forest", "candle",
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


def _ing(verb: str) -> str:
    if verb in DOUBLE_FINAL:
        return verb + verb[-1] + "ing"
    if verb.endswith("e") and not verb.endswith("ee"):
        return verb[:-1] + "ing"
    return verb + "ing"


def _third(verb: str) -> str:
    if verb.endswith(("s", "sh", "ch", "x", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _language(rng: random.Random) -> list[Item]:
    answers = [b for _, b in ANTONYMS]
    antonyms: list[Item] = []
    for word, opp in ANTONYMS:
        clash = set().union(*(g for g in ANTONYM_GROUPS if opp in g)) | {opp}
        pool = [x for x in answers if x not in clash]
        antonyms.append((f"What is the opposite of '{word}'?", opp, *rng.sample(pool, 3)))
    plurals: list[Item] = []
    for word, plural in PLURALS:
        wrong = [word + "s", word + "es", word[:-1] + "ies", word + "en", word + "ses"]
        wrong = list(dict.fromkeys(w for w in wrong if w != plural and w != word))
        if word == plural:
            wrong = [word + "s", word + "es", word + "en"]
        plurals.append((f"What is the plural of '{word}'?", plural, *rng.sample(wrong, 3)))
    pasts: list[Item] = []
    for verb, past in PAST_TENSES:
        naive = verb + "d" if verb.endswith("e") else verb + "ed"
        first = naive if naive != past else verb
        pasts.append(
            (f"What is the past tense of '{verb}'?", past, first, _ing(verb), _third(verb))
        )
    rhymes: list[Item] = []
    for gi, group in enumerate(RHYME_GROUPS):
        others = [w for gj, g in enumerate(RHYME_GROUPS) if gj != gi for w in g]
        for word in group:
            ans = rng.choice([w for w in group if w != word])
            rhymes.append((f"Which word rhymes with '{word}'?", ans, *rng.sample(others, 3)))
    degrees: list[Item] = []
    for adj, comp, sup, bad in DEGREES:
        degrees.append((f"What is the comparative form of '{adj}'?", comp, sup, adj, bad))
        degrees.append((f"What is the superlative form of '{adj}'?", sup, comp, adj, bad))
    letters: list[Item] = []
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for word in LETTER_QUIZ_WORDS:
        for pos, idx in (("first", 0), ("last", -1)):
            ans = word[idx].upper()
            bad = rng.sample([c for c in alphabet if c.lower() not in word], 3)
            letters.append((f"What is the {pos} letter of the word '{word}'?", ans, *bad))
    return [
        *_take(rng, antonyms, 55, "antonyms"),
        *LANGUAGE_HAND,
        *_take(rng, plurals, 30, "plurals"),
        *_take(rng, pasts, 35, "past tenses"),
        *_take(rng, SYNONYMS, 25, "synonyms"),
        *_take(rng, rhymes, 25, "rhymes"),
        *_take(rng, degrees, 20, "comparatives"),
        *_take(rng, letters, 10, "letters"),
    ]


# ---- instruction following -------------------------------------------------------------------

CAPS_PHRASES = [
    "good morning", "see you soon", "thank you very much", "the meeting is today",
    "happy birthday", "please wait here", "well done team", "the shop is open",
    "welcome back", "have a nice day", "the train is late", "lunch is ready",
    "the sky is blue", "we won the match", "turn left here", "the door is locked",
    "call me later", "it is very cold", "the bus is full", "good luck today",
    "read the book", "the tea is hot", "keep the change", "close the window",
    "the film starts now", "my dog is happy", "time for bed", "open your eyes",
    "the river is wide", "bring an umbrella", "we love pizza", "the test is easy",
]  # fmt: skip
LOWER_PHRASES = [
    "the cat is asleep", "rain is coming", "we are going home", "the door is open",
    "coffee is hot", "my bag is blue", "the park is quiet", "dinner was great",
    "birds can fly", "the road is long", "snow is white", "the bread is fresh",
    "she likes music", "the car is new", "we play chess", "the lamp is on",
    "he reads a lot", "the milk is cold", "trees grow tall", "the room is clean",
    "ask the teacher", "the game is over", "fish can swim", "the box is empty",
    "walk to school", "the soup smells good", "apples are sweet", "the clock is slow",
]  # fmt: skip
# prompt -> replies of 1, 2, 3, 4 and 5 words
WORD_COUNT_REPLIES: list[tuple[str, list[str]]] = [
    ("How is the weather?", ["Sunny.", "Very sunny.", "It is sunny.", "It is very sunny.",
                             "It is sunny and warm."]),
    ("What is your favourite fruit?", ["Mango.", "Ripe mangoes.", "I love mangoes.",
                                       "I really love mangoes.", "My favourite fruit is mango."]),
    ("Where do you live?", ["Paris.", "In Paris.", "I live there.", "I live in Paris.",
                            "I live in central Paris."]),
    ("How do you get to work?", ["Bus.", "By bus.", "I take buses.", "I take the bus.",
                                 "I usually take the bus."]),
    ("What did you eat for lunch?", ["Soup.", "Tomato soup.", "I ate soup.",
                                     "I ate tomato soup.", "I had some tomato soup."]),
    ("What is your pet called?", ["Rex.", "Rex, mostly.", "He is Rex.", "My dog is Rex.",
                                  "My dog is called Rex."]),
    ("What do you do on Sundays?", ["Relax.", "I relax.", "I read books.",
                                    "I read many books.", "I read books and relax."]),
    ("Which sport do you like?", ["Tennis.", "Playing tennis.", "I like tennis.",
                                  "I really like tennis.", "I like playing tennis best."]),
    ("What time do you wake up?", ["Seven.", "At seven.", "At seven o'clock.",
                                   "I wake at seven.", "I wake up at seven."]),
    ("What colour is your car?", ["Red.", "Bright red.", "It is red.", "My car is red.",
                                  "My car is bright red."]),
]  # fmt: skip
JSON_VALUE_LISTS = [
    ["red", "green", "blue"], ["cat", "dog"], ["apple"], ["a", "b", "c"], ["tea", "coffee"],
    ["Paris", "Rome", "Oslo"], ["yes", "no"], ["north", "south", "east"],
    [1, 2, 3], [10, 20, 30, 40], [7, 8], [5], [2, 4, 6, 8], [100, 200], [0, 1],
]  # fmt: skip
JSON_OBJECTS = [
    ("name", "Ann"), ("city", "Rome"), ("colour", "blue"), ("animal", "cat"), ("fruit", "pear"),
    ("day", "Monday"), ("food", "soup"), ("sport", "golf"), ("age", 9), ("size", 42),
    ("score", 7), ("year", 2020), ("count", 3), ("pages", 120), ("price", 15),
]  # fmt: skip
QUESTION_PAIRS = [  # (statement, the same as a question)
    ("The shop is open.", "Is the shop open?"), ("The station is near.", "Is the station near?"),
    ("It is raining.", "Is it raining?"), ("You can help me.", "Can you help me?"),
    ("You like tea.", "Do you like tea?"), ("You are ready.", "Are you ready?"),
    ("The train is late.", "Is the train late?"), ("She can swim.", "Can she swim?"),
    ("He is at home.", "Is he at home?"), ("The soup is hot.", "Is the soup hot?"),
    ("They are friends.", "Are they friends?"), ("The door is locked.", "Is the door locked?"),
    ("We are lost.", "Are we lost?"), ("The baby is asleep.", "Is the baby asleep?"),
    ("You have a pen.", "Do you have a pen?"), ("The film was good.", "Was the film good?"),
    ("It is cold outside.", "Is it cold outside?"),
    ("He likes football.", "Does he like football?"),
    ("The bus has left.", "Has the bus left?"), ("You speak French.", "Do you speak French?"),
    ("The shop sells milk.", "Does the shop sell milk?"), ("She is a nurse.", "Is she a nurse?"),
    ("The cake is ready.", "Is the cake ready?"), ("You can drive.", "Can you drive?"),
    ("The road is closed.", "Is the road closed?"),
    ("They won the game.", "Did they win the game?"),
]  # fmt: skip
CATEGORY_WORDS: dict[str, list[str]] = {
    "an animal": ["cat", "dog", "horse", "lion", "mouse", "rabbit", "tiger", "zebra", "goat"],
    "a fruit": ["apple", "banana", "cherry", "grape", "lemon", "mango", "orange", "pear", "kiwi"],
    "a colour": ["red", "blue", "green", "yellow", "pink", "white", "black", "orange"],
    "a country": ["France", "Spain", "Italy", "Japan", "Brazil", "Canada", "Egypt", "Kenya"],
    "a vegetable": ["carrot", "potato", "onion", "pea", "leek", "bean", "cabbage"],
}  # fmt: skip
LIST_CATEGORIES: dict[str, list[str]] = {
    "colours": ["red", "blue", "green", "yellow", "pink", "brown", "white"],
    "fruits": ["apple", "pear", "plum", "grape", "lemon", "mango", "cherry"],
    "animals": ["cat", "dog", "horse", "cow", "sheep", "goat", "duck"],
    "days of the week": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"],
    "vegetables": ["carrot", "potato", "onion", "pea", "leek", "bean"],
    "drinks": ["water", "milk", "tea", "coffee", "juice", "lemonade"],
}  # fmt: skip
SORT_WORDS = [
    "apple", "bread", "cloud", "daisy", "eagle", "flute", "grape", "house", "igloo", "juice",
    "kite", "lemon", "mouse", "night", "ocean", "piano", "queen", "river", "snake", "tiger",
    "umbrella", "violin", "whale", "yacht", "zebra",
]  # fmt: skip
REVERSE_WORDS = [
    "cat", "dog", "sun", "book", "tree", "fish", "lamp", "milk", "star", "frog", "door",
    "apple", "house", "train", "cloud", "plant", "bread", "chair", "horse", "water",
]  # fmt: skip


def _number_words(n: int) -> str:
    return NUMBER_WORDS[n]


def _instruction_following(rng: random.Random) -> list[Item]:
    caps = [
        (f"Write '{p}' in all capital letters.", p.upper(), p, p.title(), p.capitalize())
        for p in CAPS_PHRASES
    ]
    lower = [
        (f"Write '{p.upper()}' in all lowercase letters.", p, p.upper(), p.title(), p.capitalize())
        for p in LOWER_PHRASES
    ]
    counts: list[Item] = []
    for prompt, replies in WORD_COUNT_REPLIES:
        assert [len(r.split()) for r in replies] == [1, 2, 3, 4, 5], prompt
        for n in range(1, 6):
            good = replies[n - 1]
            bad = rng.sample([r for r in replies if r != good], 3)
            q = f"Answer '{prompt}' using exactly {_number_words(n)} word{'s' if n > 1 else ''}."
            counts.append((q, good, *bad))
    jsons: list[Item] = []
    for values in JSON_VALUE_LISTS:
        good = json.dumps(values)
        inner = ", ".join(str(v) for v in values)
        bad = [f"({inner})", f"[{inner}", "{" + inner + "}", good[:-1]]
        if isinstance(values[0], str):
            bad += ["[" + ", ".join(f"'{v}'" for v in values) + "]", f"[{inner}]"]
        bad = list(dict.fromkeys(b for b in bad if b != good))
        kind = "word" if isinstance(values[0], str) else "number"
        if len(values) == 1:
            spoken = f"the {kind} {values[0]}"
        else:
            head = ", ".join(str(v) for v in values[:-1])
            spoken = f"the {kind}s {head} and {values[-1]}"
        q = f"Write {spoken} as a valid JSON list."
        jsons.append((q, good, *rng.sample(bad, 3)))
    for key, value in JSON_OBJECTS:
        good = json.dumps({key: value})
        v = json.dumps(value)
        single = f"'{value}'" if isinstance(value, str) else v
        bad = [
            "{" + f"'{key}': {single}" + "}",
            "{" + f"{key}: {v}" + "}",
            "{" + f'"{key}" = {v}' + "}",
            f'("{key}": {v})',
            "{" + f'"{key}": {v}',
        ]
        q = f'Write a valid JSON object with the key "{key}" set to {v}.'
        jsons.append((q, good, *rng.sample(bad, 3)))
    questions: list[Item] = []
    for statement, question in QUESTION_PAIRS:
        assert question.endswith("?") and statement.endswith(".")
        q = f"Turn '{statement}' into a question that ends with a question mark."
        questions.append((q, question, question[:-1] + ".", statement, statement[:-1] + "!"))
    starts: list[Item] = []
    for cat, words in CATEGORY_WORDS.items():
        for word in words:
            letter = word[0].upper()
            others = [w for w in words if w[0].upper() != letter]
            if len({w[0] for w in others}) < 3:
                continue
            bad: list[str] = []
            for w in rng.sample(others, len(others)):
                if w[0] not in {b[0] for b in bad}:
                    bad.append(w)
            q = f"Name {cat} whose name starts with the letter {letter}."
            if sum(w[0].upper() == letter for w in words) == 1:
                starts.append((q, word, *bad[:3]))
    lists: list[Item] = []
    for cat, words in LIST_CATEGORIES.items():
        for n in (2, 3, 4, 5):
            pick = rng.sample(words, n + 1)
            q = f"List exactly {_number_words(n)} {cat}, separated by commas."
            lists.append(
                (
                    q,
                    ", ".join(pick[:n]),
                    ", ".join(pick[: n - 1]),
                    ", ".join(pick),
                    " ".join(pick[:n]),
                )
            )
    sorts: list[Item] = []
    seen_sorts: set[tuple[str, ...]] = set()
    for _ in range(200):
        words = sorted(rng.sample(SORT_WORDS, rng.choice((3, 4))))
        if tuple(words) in seen_sorts:
            continue
        seen_sorts.add(tuple(words))
        shown = list(words)
        while shown == words:
            rng.shuffle(shown)
        good = ", ".join(words)
        wrong: list[str] = []
        while len(wrong) < 3:
            perm = rng.sample(words, len(words))
            text = ", ".join(perm)
            if perm != words and text not in wrong:
                wrong.append(text)
        sorts.append((f"Sort these words alphabetically: {', '.join(shown)}.", good, *wrong))
    reverse: list[Item] = []
    for word in REVERSE_WORDS:
        rev = word[::-1]
        assert rev != word
        scrambled = word[1:] + word[0]
        bad = list(dict.fromkeys(x for x in (word, scrambled, rev[1:] + rev[0]) if x != rev))
        reverse.append((f"Write the word '{word}' backwards.", rev, *bad))
    repeats: list[Item] = []
    for word in REVERSE_WORDS:
        n = rng.choice((2, 3, 4))
        q = f"Repeat the word '{word}' exactly {_number_words(n)} times, separated by spaces."
        repeats.append(
            (q, " ".join([word] * n), " ".join([word] * (n - 1)), " ".join([word] * (n + 1)),
             ", ".join([word] * n))
        )  # fmt: skip
    return [
        *_take(rng, caps, 30, "all caps"),
        *_take(rng, lower, 26, "lowercase"),
        *_take(rng, counts, 30, "word count"),
        *_take(rng, jsons, 30, "json"),
        *_take(rng, questions, 24, "question mark"),
        *_take(rng, starts, 24, "first letter"),
        *_take(rng, lists, 24, "n items"),
        *_take(rng, sorts, 30, "alphabetical"),
        *_take(rng, reverse, 16, "backwards"),
        *_take(rng, repeats, 16, "repeat"),
    ]


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
        "factual_recall": _factual,
        "commonsense": _commonsense,
        "logic": _logic,
        "language": _language,
        "instruction_following": _instruction_following,
    }
    rows: list[dict] = []
    seen_questions: set[str] = set()
    for cap in CAPABILITIES:
        items = builders[cap](rng)
        assert len(items) == PER_CAPABILITY, (cap, len(items))
        keys = [(q, tuple(sorted(rest))) for q, *rest in items]
        assert len(set(keys)) == len(keys), f"duplicate item in {cap}"
        for q, *_rest in items:
            assert q not in seen_questions, f"duplicate question: {q}"
            seen_questions.add(q)
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
  version: 2.0
  kind: general
  capability_field: capability
  description: >-
    Easy general-capability multiple choice (2-4 choices per item) used to detect
    catastrophic forgetting after a fine-tune: 250 items each of arithmetic, factual_recall,
    commonsense, logic, language and instruction_following (1500 items). Per-capability
    scores come from the capability field. Generated by suites/generate.py.
"""


# --------------------------------------------------------------------------------------------
# 3. ticket extraction (generation suite, scored with ROUGE-L / BLEU / chrF)
# --------------------------------------------------------------------------------------------

N_EXTRACT_PER_CAPABILITY = 80
EXTRACT_QUESTIONS = {
    "product": "Which product is the ticket about? Answer with the product name only.",
    "order_number": "What is the order number in the ticket?",
}
ORDER_DETAILS = ["My order number is {order}.", "The order reference is {order}."]


def _extract_ticket(rng: random.Random, capability: str) -> tuple[str, str]:
    """A ticket and the short phrase to extract from it (the product name or the order number)."""
    code = rng.choice(CHOICES)
    issue = rng.choice([p for p in ISSUES[code] if "{product}" in p])
    product = rng.choice(PRODUCTS)
    order = f"#{rng.randrange(100000, 1000000)}"
    parts = [rng.choice(OPENERS)] if rng.random() < 0.5 else []
    parts.append(issue.format(product=product))
    if capability == "order_number" or rng.random() < 0.5:
        parts.append(rng.choice(ORDER_DETAILS).format(order=order))
    if rng.random() < 0.6:
        parts.append(rng.choice(CLOSINGS).format(name=rng.choice(NAMES)))
    return " ".join(parts), product if capability == "product" else order


def build_extraction() -> list[dict]:
    rng = random.Random(SEED + 2)
    rows: list[dict] = []
    seen: set[str] = set()
    for capability in EXTRACT_QUESTIONS:
        made = 0
        while made < N_EXTRACT_PER_CAPABILITY:
            ticket, answer = _extract_ticket(rng, capability)
            if ticket in seen:
                continue
            seen.add(ticket)
            assert answer in ticket
            rows.append(
                {
                    "capability": capability,
                    "ticket": ticket,
                    "question": EXTRACT_QUESTIONS[capability],
                    "answer": answer,
                }
            )
            made += 1
    rng.shuffle(rows)
    return [{"id": f"ex-{i + 1:04d}", **r} for i, r in enumerate(rows)]


EXTRACTION_YAML = """\
task: harness_ticket_extraction
dataset_path: json
dataset_kwargs:
  data_files:
    test: test.jsonl
test_split: test
output_type: generate_until
doc_to_text: "Ticket: {{ticket}}\\nQuestion: {{question}}\\nAnswer:"
doc_to_target: "{{answer}}"
target_delimiter: " "
generation_kwargs:
  until: ["\\n", "Ticket:", "Question:"]
  max_gen_toks: 12
  do_sample: false
filter_list:
  - name: strip
    filter:
      - function: remove_whitespace
      - function: take_first
metric_list:
  - metric: harness_rougeL
    aggregation: mean
    higher_is_better: true
  - metric: harness_bleu
    aggregation: mean
    higher_is_better: true
  - metric: harness_chrf
    aggregation: mean
    higher_is_better: true
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
    ignore_case: true
    ignore_punctuation: true
metadata:
  version: 1.0
  kind: general
  capability_field: capability
  primary_metric: harness_rougeL
  description: >-
    Extract a short phrase from a support ticket by generation: the product name (80 items)
    or the order number (80 items). Scored per item with ROUGE-L F1 (primary, rouge-score),
    sentence BLEU and chrF (sacrebleu, 0-100) and exact match after stripping whitespace.
    Generated by suites/generate.py.
"""


# --------------------------------------------------------------------------------------------
# 4. support replies (rolling log-likelihood: bits per byte, perplexity)
# --------------------------------------------------------------------------------------------

N_REPLIES_PER_TOPIC = 20
REPLY_OPENERS = [
    "Thank you for contacting us about your {product}.",
    "Thanks for reaching out about your {product}.",
    "We are sorry to hear about the trouble with your {product}.",
    "Thank you for your message about the {product}.",
]
REPLY_BODIES: dict[str, list[str]] = {
    "billing": [
        "We have checked your account and refunded the duplicate charge.",
        "The refund will appear on your statement within five working days.",
        "We have sent a corrected invoice to your email address.",
        "The discount has now been applied and the difference refunded.",
    ],
    "shipping": [
        "Your parcel left our warehouse yesterday and should arrive within three days.",
        "We have asked the courier to investigate the missing delivery.",
        "A replacement has been sent by express delivery at no extra cost.",
        "You can follow the parcel with the new tracking link in your account.",
    ],
    "account_access": [
        "We have unlocked your account, so you can sign in again.",
        "Please use the new password reset link we have just sent you.",
        "We have updated the email address on your account as requested.",
        "For your security we signed you out on all devices.",
    ],
    "hardware": [
        "Please send the device to us with the prepaid label and we will repair it.",
        "The fault is covered by the warranty, so the repair is free.",
        "We will replace the damaged unit as soon as we receive it.",
        "Please stop using the device until our technician has checked it.",
    ],
    "software": [
        "Installing the latest update fixes this error.",
        "Please restart the app after clearing its cache.",
        "Our engineers have found the bug and a fix is on the way.",
        "Reinstalling the app should restore your saved settings.",
    ],
    "cancellation": [
        "Your subscription has been cancelled and will not renew.",
        "We have switched your plan, and the new price applies from next month.",
        "Your membership is paused until the date you asked for.",
        "The automatic renewal is now turned off.",
    ],
}
REPLY_CLOSINGS = [
    "Kind regards, the support team.",
    "Best wishes, customer support.",
    "Let us know if there is anything else we can do.",
    "We hope this helps.",
]


def build_replies() -> list[dict]:
    rng = random.Random(SEED + 3)
    rows: list[dict] = []
    seen: set[str] = set()
    for topic, bodies in REPLY_BODIES.items():
        made = 0
        while made < N_REPLIES_PER_TOPIC:
            body = rng.sample(bodies, 2)
            text = " ".join(
                [
                    rng.choice(REPLY_OPENERS).format(product=rng.choice(PRODUCTS)),
                    *body,
                    rng.choice(REPLY_CLOSINGS),
                ]
            )
            if text in seen:
                continue
            seen.add(text)
            rows.append({"topic": topic, "text": text})
            made += 1
    rng.shuffle(rows)
    return [{"id": f"rp-{i + 1:04d}", **r} for i, r in enumerate(rows)]


REPLIES_YAML = """\
task: harness_support_replies
dataset_path: json
dataset_kwargs:
  data_files:
    test: test.jsonl
test_split: test
output_type: loglikelihood_rolling
doc_to_text: ""
doc_to_target: "{{text}}"
metric_list:
  - metric: bits_per_byte
    aggregation: bits_per_byte
    higher_is_better: false
  - metric: word_perplexity
    aggregation: weighted_perplexity
    higher_is_better: false
  - metric: byte_perplexity
    aggregation: weighted_perplexity
    higher_is_better: false
metadata:
  version: 1.0
  kind: general
  capability_field: topic
  primary_metric: bits_per_byte
  description: >-
    Language-modelling suite: 120 short customer-support replies (20 per topic) scored by
    rolling log-likelihood. Per item the harness keeps bits per byte (primary; lower is
    better), word and byte perplexity. Generated by suites/generate.py.
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
        out / "ticket_extraction" / "test.jsonl",
        out / "ticket_extraction" / "ticket_extraction.yaml",
        out / "support_replies" / "test.jsonl",
        out / "support_replies" / "support_replies.yaml",
    ]
    write_jsonl(written[0], train)
    write_jsonl(written[1], test)
    write_text(written[2], TICKET_YAML)
    write_jsonl(written[3], general)
    write_text(written[4], GENERAL_YAML)
    write_jsonl(written[5], build_extraction())
    write_text(written[6], EXTRACTION_YAML)
    write_jsonl(written[7], build_replies())
    write_text(written[8], REPLIES_YAML)
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
