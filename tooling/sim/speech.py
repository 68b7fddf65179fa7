"""What a live-stream host says: product talk built from the real catalog text, plus banter.

Everything here is clean spoken English (lower case, no punctuation); recognizer errors are added
afterwards by :mod:`tooling.sim.asr_noise`. Each function draws from the given ``random.Random``.
"""

from __future__ import annotations

import random
import re

from encoders.attributes import ONES as _ONES
from encoders.attributes import TENS as _TENS
from encoders.dataset import ProductRecord

GREETINGS = [
    "hi everyone welcome back to the stream",
    "hello hello good evening guys thanks for joining",
    "hey everybody we are live so happy to see you all",
    "welcome welcome give me a second to set up the light",
    "hi guys if you are new here hit follow we do this every night",
]
BANTER = [
    "don't forget to follow so you see when we go live",
    "hi {name} thanks for joining",
    "{name} is asking if we ship abroad yes we do",
    "let me know in the comments what you want to see next",
    "can you all see it ok let me move the camera a bit",
    "one second let me fix the light",
    "so many of you asked about this one",
    "wow the chat is busy tonight",
    "thank you {name} for the like",
    "ok ok let me read the comments",
    "my coffee got cold again",
    "share the stream with your friends please",
]
TRANSITIONS = [
    "ok next one",
    "alright moving on",
    "let me grab the next item",
    "ok put that one down",
    "and now something different",
    "next on the list",
]
NAMES = ["sarah", "mike", "anna", "tom", "lisa", "james", "maria", "kevin", "emma", "li wei"]
PROMOS = [
    "today only it is {price}",
    "the price is {price} but with the code live ten you get ten percent off",
    "we have it for {price} tonight",
    "normally more but for the stream {price}",
    "free shipping if you order in the next ten minutes",
    "only a few left in stock so be quick",
    "buy two and get fifteen percent off",
]
REFERRALS = [
    "if you missed the {other} it is still in the cart",
    "the {other} from before is almost sold out",
    "someone asked about the {other} again it is link number {n}",
]


def number_words(n: int) -> str:
    """Spoken form of a whole number below one million."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + number_words(rest))
    rest = n % 1000
    return number_words(n // 1000) + " thousand" + ("" if rest == 0 else " " + number_words(rest))


def spoken_price(price: float, rng: random.Random) -> str:
    """A price as a host says it ("ninety nine ninety nine", "129 dollars" ...)."""
    whole, cents = int(price), round((price - int(price)) * 100)
    if rng.random() < 0.4:
        return f"{whole} dollars" + (f" {cents}" if cents else "")
    words = number_words(whole) + " dollars"
    return words + (f" {number_words(cents)}" if cents and rng.random() < 0.6 else "")


def speak_numbers(text: str, rng: random.Random, p: float = 0.5) -> str:
    """Spell some digits out as words, the way recognizers often write them."""

    def repl(m: re.Match) -> str:
        num = m.group(0)
        if "." in num or len(num) > 5 or rng.random() > p:
            return num
        return number_words(int(num))

    text = re.sub(r"(\d+)(gb|tb)\b", lambda m: f"{m.group(1)} {rng.choice(['gigs', 'g b', m.group(2)]) if m.group(2) == 'gb' else 'terabytes'}", text)
    return re.sub(r"\d+(?:\.\d+)?", repl, text)


def clean_spoken(text: str) -> str:
    """Lower case, no punctuation, single spaces."""
    text = text.lower().replace("&", " and ").replace("-", " ")
    text = re.sub(r"[^\w\s']", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _sentences(description: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", description) if len(s.split()) >= 4]


def _nickname(product: ProductRecord) -> str:
    """A short way of referring to the product (the last word or two of the title)."""
    words = product.title.split()
    return " ".join(words[-2:]) if len(words) > 2 else words[-1]


def product_lines(product: ProductRecord, rng: random.Random, mention_price: bool) -> list[str]:
    """The product talk of one segment, in speaking order."""
    name = product.title if rng.random() < 0.7 else _nickname(product)
    brand = product.brand if product.brand and rng.random() < 0.6 else ""
    intro = rng.choice([
        "next up we have the {n}",
        "ok guys look at this {n}",
        "this one is the {n}",
        "let me show you this {n}",
        "so this is our {n}",
        "you asked for it here is the {n}",
    ]).format(n=f"{brand} {name}".strip())
    lines = [intro]
    sentences = _sentences(product.description)
    rng.shuffle(sentences)
    for s in sentences[: rng.randint(1, 3)]:
        words = s.split()
        if len(words) > 18 and rng.random() < 0.5:
            words = words[: rng.randint(10, 18)]
        lines.append(rng.choice(["", "so ", "and ", "honestly ", "look "]) + " ".join(words))
    attr_lines = []
    for key, value in product.attributes.items():
        if key in ("plant_type",):
            attr_lines.append(f"it is an {value.lower()} plant" if rng.random() < 0.5 else f"good for {value.lower()}")
            continue
        key_words = key.replace("_", " ")
        attr_lines.append(rng.choice([
            "this is the {v} one", "it comes in {v}", "{k} is {v}", "we have it in {v}", "{v} {k} this one",
        ]).format(k=key_words, v=value))
    rng.shuffle(attr_lines)
    lines[1:1] = attr_lines[:1]
    lines += attr_lines[1:]
    if product.category and rng.random() < 0.3:
        lines.append(f"great for your {product.category.split('>')[-1].strip().lower()}")
    if mention_price and product.price:
        lines.append(rng.choice(PROMOS).format(price=spoken_price(product.price, rng)))
    return [speak_numbers(clean_spoken(line), rng) for line in lines if line.strip()]


def banter(rng: random.Random) -> str:
    """One line with no product content."""
    return clean_spoken(rng.choice(BANTER).format(name=rng.choice(NAMES)))


def referral(other: ProductRecord, rng: random.Random) -> str:
    """A line that names another product (a distractor for the segment's own product)."""
    return clean_spoken(rng.choice(REFERRALS).format(other=other.title, n=rng.randint(1, 9)))


def greeting(rng: random.Random) -> str:
    return clean_spoken(rng.choice(GREETINGS))


def transition(rng: random.Random) -> str:
    return clean_spoken(rng.choice(TRANSITIONS))


def video_lines(product: ProductRecord, rng: random.Random) -> list[str]:
    """A short product video's voice-over: fewer, cleaner lines, no banter."""
    lines = product_lines(product, rng, mention_price=rng.random() < 0.3)
    return lines[: rng.randint(2, 4)]
