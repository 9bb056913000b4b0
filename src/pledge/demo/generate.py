"""Synthetic people and their rows in each service database, deterministic for a seed.

Faker gives the vocabulary (names, streets, cities, retailers, sentences) once per build; numpy
draws from it in bulk, a chunk of people at a time, so a million people take seconds. Every draw
comes from a generator seeded by ``(seed, stream, chunk)``: the same seed gives the same rows
whichever process builds which dataset, and the datasets agree on who is who (the customer number
in the shop is the one in the accounts; a browser id in the analytics is one the account used).

Row ids are derived from the owner's id (``person * 16 + n``), so they need no counter shared
between chunks or processes.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import numpy as np
from faker import Faker

#: People per chunk: the unit of generation, of a database transaction and of progress.
CHUNK = 10_000
#: "Today" in the demo world, fixed so a build does not depend on the day it runs.
REFERENCE_DAY = dt.date(2025, 6, 30)
_REF = np.datetime64(REFERENCE_DAY.isoformat(), "s")
_DAY = np.timedelta64(86_400, "s")

Columns = dict[str, "list[Any] | Moments"]
Tables = dict[str, Columns]

COUNTRIES = ("GB", "DE", "FR", "US", "IE", "TH", "VN", "JP", "NL", "ES")
COUNTRY_WEIGHTS = (0.25, 0.2, 0.1, 0.2, 0.04, 0.05, 0.04, 0.04, 0.04, 0.04)
PRODUCTS = ("LUMIX S5II", "LUMIX GH6", "LUMIX G9II", "LUMIX S1R", "LUMIX TZ200", "LUMIX S 24-105mm F4",
            "LUMIX G 42.5mm F1.7", "NN-ST48KS", "TX-65LZ2000", "SC-HTB490", "ES-LV9U", "NA-148XR1",
            "NR-BN31AW2", "KX-TGF320", "CS-Z35ZKE", "ER-GN300")
APPLIANCES = ("CS-Z35ZKE", "NR-F555WX", "NA-148XR1", "NN-CS89LB", "KX-HNB600", "TX-55MZ1500")
TIERS = ("Red", "Silver", "Gold", "Platinum")
NEWSLETTER_TOPICS = ("lumix", "home-appliances", "beauty", "audio-video", "offers")
SOURCES = ("account", "purchase", "support", "website", "event")
PATHS = ("/", "/uk/cameras/lumix", "/uk/support", "/uk/shop/basket", "/uk/promotions", "/uk/smart-home",
         "/uk/community", "/uk/my-account", "/uk/tv-audio", "/uk/beauty", "/uk/kitchen")
REFERRERS = (None, "https://www.google.com/", "https://www.bing.com/", "https://www.facebook.com/",
             "https://newsletter.example/", None)
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537",
)
DEVICE_EVENTS = ("app_opened", "device_paired", "firmware_checked", "remote_control", "timer_set", "error_reported")


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum()) or "x"


def _clean(text: str) -> str:
    """One line, no tab or backslash: safe in any bulk format."""
    return " ".join(text.replace("\\", "/").split())


@dataclass(frozen=True)
class Pools:
    """The vocabulary of a build, drawn from Faker with the build's seed."""

    first_names: np.ndarray
    first_slugs: np.ndarray
    last_names: np.ndarray
    last_slugs: np.ndarray
    streets: np.ndarray
    cities: np.ndarray
    postcodes: np.ndarray
    retailers: np.ndarray
    sentences: np.ndarray
    titles: np.ndarray
    nicknames: np.ndarray
    password_hashes: np.ndarray


def make_pools(seed: int, size: int = 1500) -> Pools:
    """Names and words for the build, the same for the same seed."""
    fake = Faker(["en_GB", "de_DE", "fr_FR", "en_US", "en_IE", "nl_NL"])
    fake.seed_instance(seed)
    first = [fake.first_name() for _ in range(size)]
    last = [fake.last_name() for _ in range(size)]

    def arr(values: Sequence[Any]) -> np.ndarray:
        out = np.empty(len(values), dtype=object)
        out[:] = list(values)
        return out

    return Pools(
        first_names=arr(first), first_slugs=arr([_ascii(x) for x in first]),
        last_names=arr(last), last_slugs=arr([_ascii(x) for x in last]),
        streets=arr([_clean(fake.street_address()) for _ in range(size)]),
        cities=arr([_clean(fake.city()) for _ in range(size // 3)]),
        postcodes=arr([_clean(fake.postcode())[:12] for _ in range(size)]),
        retailers=arr([_clean(fake.company())[:120] for _ in range(200)]),
        sentences=arr([_clean(fake.sentence(nb_words=14)) for _ in range(size)]),
        titles=arr([_clean(fake.sentence(nb_words=6))[:200] for _ in range(size // 2)]),
        nicknames=arr([_clean(fake.user_name())[:40] for _ in range(size)]),
        password_hashes=arr([f"$argon2id$v=19$m=65536,t=3,p=4${fake.sha256()[:22]}${fake.sha256()[:43]}"
                             for _ in range(size)]),
    )


def rng(seed: int, stream: int, chunk: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, chunk])


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_PAIRS = np.array([[48 + i // 10, 48 + i % 10] for i in range(100)], dtype=np.uint8)  # "00" .. "99"


def _text(chars: np.ndarray) -> list[str]:
    """The rows of a matrix of ASCII codes, as strings (one decode and one split: no per-row formatting)."""
    count, width = chars.shape
    lines = np.empty((count, width + 1), dtype=np.uint8)
    lines[:, :width], lines[:, width] = chars, ord("\n")
    text = lines.tobytes().decode("ascii").split("\n")
    text.pop()
    return text


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative integers, as ASCII codes (``width`` per row)."""
    rest = np.asarray(values, dtype=np.int64)
    out = np.empty((len(rest), width), dtype=np.uint8)
    at = width
    while at >= 2:
        rest, pair = np.divmod(rest, 100)
        out[:, at - 2:at] = _PAIRS[pair]
        at -= 2
    if at:
        out[:, 0] = 48 + rest % 10
    return out


def _numbered(prefix: str, values: np.ndarray, width: int) -> list[str]:
    """``f"{prefix}{v:0{width}d}"`` for each value, in bulk."""
    digits = _digits(values, width)
    head = np.broadcast_to(np.frombuffer(prefix.encode(), dtype=np.uint8), (len(digits), len(prefix)))
    return _text(np.hstack([head, digits]))


def _uuids(generator: np.random.Generator, count: int) -> list[str]:
    """Random (version 4 shaped) UUIDs from the generator, so they repeat with the seed."""
    raw = np.frombuffer(generator.bytes(16 * count), dtype=np.uint8).reshape(count, 16)
    h = np.empty((count, 32), dtype=np.uint8)
    h[:, 0::2], h[:, 1::2] = _HEX[raw >> 4], _HEX[raw & 15]
    out = np.full((count, 36), ord("-"), dtype=np.uint8)
    out[:, 0:8], out[:, 9:13], out[:, 15:18], out[:, 20:23], out[:, 24:36] = (
        h[:, 0:8], h[:, 8:12], h[:, 13:16], h[:, 17:20], h[:, 20:32])
    out[:, 14], out[:, 19] = ord("4"), ord("a")
    return _text(out)


_FIRST_DAY = np.datetime64("1900-01-01", "D")


@cache
def _calendar() -> tuple[np.ndarray, np.ndarray]:
    """Every day from 1900 to 2099 as ``YYYY-MM-DD``, and every second of a day as ``THH:MM:SS``, as ASCII
    codes: a timestamp is then two look-ups, not a formatting."""
    days = "".join(np.datetime_as_string(np.arange(_FIRST_DAY, np.datetime64("2100-01-01", "D"))).tolist())
    seconds = "".join(f"T{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60))
    return (np.frombuffer(days.encode(), dtype=np.uint8).reshape(-1, 10),
            np.frombuffer(seconds.encode(), dtype=np.uint8).reshape(-1, 9))


def _iso(moments: np.ndarray, with_time: bool) -> list[str]:
    day_text, second_text = _calendar()
    seconds = (moments.astype("datetime64[s]") - _FIRST_DAY).astype(np.int64)
    days = seconds // 86_400
    if len(days) and (days.min() < 0 or days.max() >= len(day_text)):
        raise ValueError("a demo date outside 1900-2099")
    if not with_time:
        return _text(day_text[days])
    return _text(np.hstack([day_text[days], second_text[seconds - days * 86_400]]))


class Moments:
    """A column of timestamps or dates, kept as numpy datetimes (to the second; NaT for NULL) until a writer
    asks for its form: ISO 8601 text for SQLite, integers for PostgreSQL's binary COPY."""

    def __init__(self, moments: np.ndarray, with_time: bool) -> None:
        self.seconds = moments.astype("datetime64[s]")
        self.with_time = with_time

    def __len__(self) -> int:
        return len(self.seconds)

    @property
    def missing(self) -> np.ndarray:
        missing: np.ndarray = np.isnat(self.seconds)
        return missing

    def iso(self) -> list[str | None]:
        """``2024-05-01T10:00:00`` (or ``2024-05-01`` for dates), read as they are by SQLite and Python."""
        missing = self.missing
        if not missing.any():
            return list(_iso(self.seconds, self.with_time))
        text: list[str | None] = list(_iso(np.where(missing, _REF, self.seconds), self.with_time))
        for i in np.flatnonzero(missing).tolist():
            text[i] = None
        return text


def _stamps(moments: np.ndarray) -> Moments:
    return Moments(moments, with_time=True)


def _days(moments: np.ndarray) -> Moments:
    return Moments(moments, with_time=False)


#: "a.b." and "c.d" for every pair of octets: an IPv4 address is two picks and one concatenation.
_OCTET_PAIRS = np.array([f"{a}.{b}" for a in range(256) for b in range(256)], dtype=object)
_OCTET_PAIRS_DOT = _OCTET_PAIRS + "."


def _ips(octets: np.ndarray) -> list[str]:
    """``a.b.c.d`` for rows of four octets."""
    ips: list[str] = (_OCTET_PAIRS_DOT[octets[:, 0] * 256 + octets[:, 1]]
                      + _OCTET_PAIRS[octets[:, 2] * 256 + octets[:, 3]]).tolist()
    return ips


def _macs(octets: np.ndarray) -> list[str]:
    """``aa:bb:cc:dd:ee:ff`` for rows of six octets."""
    out = np.full((len(octets), 17), ord(":"), dtype=np.uint8)
    out[:, 0::3], out[:, 1::3] = _HEX[octets >> 4], _HEX[octets & 15]
    return _text(out)


_VERSIONS = np.array([f"{a}.{b}" for a in range(20) for b in range(20)], dtype=object)


def _versions(parts: np.ndarray) -> list[str]:
    """``a.b`` for rows of two numbers below 20."""
    versions: list[str] = _VERSIONS[parts[:, 0] * 20 + parts[:, 1]].tolist()
    return versions


def _obj(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _before(generator: np.random.Generator, count: int, low_days: float, high_days: float) -> np.ndarray:
    """Moments between ``high_days`` and ``low_days`` before the reference day."""
    seconds = generator.uniform(low_days * 86_400, high_days * 86_400, size=count).astype(np.int64)
    return _REF - seconds.astype("timedelta64[s]")


def _repeat(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For per-owner counts: the owner index of each child row, and its rank among its owner's rows."""
    owners = np.repeat(np.arange(len(counts)), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return owners, np.arange(len(owners)) - starts


def _pick(generator: np.random.Generator, pool: np.ndarray | Sequence[Any], count: int) -> list[Any]:
    values = pool if isinstance(pool, np.ndarray) else np.array(pool, dtype=object)
    picked: list[Any] = values[generator.integers(0, len(values), size=count)].tolist()
    return picked


class People:
    """One chunk of people: what every dataset must agree on. Each attribute is drawn when first asked for,
    from its own random stream, so a dataset that does not need it does not pay for it."""

    def __init__(self, seed: int, chunk: int, start: int, count: int, pools: Pools) -> None:
        self.seed, self.chunk, self.pools = seed, chunk, pools
        self.ids = np.arange(start + 1, start + count + 1, dtype=np.int64)
        g = rng(seed, 0, chunk)
        self._first_index = g.integers(0, len(pools.first_names), size=count)
        self._last_index = g.integers(0, len(pools.last_names), size=count)
        self.browser_counts = 1 + (g.random(count) < 0.3).astype(np.int64)
        self.device_counts = np.where(g.random(count) < 0.25, 1 + (g.random(count) < 0.3), 0).astype(np.int64)
        self.created = _before(g, count, 30, 12 * 365)  # account creation moments
        self._g = g

    @property
    def size(self) -> int:
        return len(self.ids)

    @cached_property
    def first(self) -> np.ndarray:
        return self.pools.first_names[self._first_index]

    @cached_property
    def last(self) -> np.ndarray:
        return self.pools.last_names[self._last_index]

    @cached_property
    def email(self) -> np.ndarray:
        """Email addresses (an object array, like the other per-person strings, to pick from by owner)."""
        domains = ("example.com", "example.org", "example.net", "mail.example")
        pick = (self.ids % 4).tolist()
        return _obj([f"{a}.{b}.{p}@{domains[d]}" for a, b, p, d in zip(
            self.pools.first_slugs[self._first_index].tolist(), self.pools.last_slugs[self._last_index].tolist(),
            self.ids.tolist(), pick, strict=True)])

    @cached_property
    def phone(self) -> np.ndarray:
        """E.164 numbers, unique per person (7919 is prime to 10**9); 15 % have none."""
        phones = _obj(_numbered("+447", self.ids * 7919 % 10**9, 9))
        phones[self.ids * 2654435761 % 100 < 15] = None
        return phones

    @cached_property
    def customer_number(self) -> np.ndarray:
        return _obj(_numbered("C", self.ids, 9))

    @cached_property
    def birth_date(self) -> np.ndarray:
        g = rng(self.seed, 92, self.chunk)
        days = g.integers(18 * 365, 85 * 365, size=self.size).astype("timedelta64[D]")
        born: np.ndarray = _REF.astype("datetime64[D]") - days
        return born

    @cached_property
    def country(self) -> np.ndarray:
        g = rng(self.seed, 93, self.chunk)
        codes: np.ndarray = np.array(COUNTRIES, dtype=object)[g.choice(len(COUNTRIES), size=self.size,
                                                                       p=COUNTRY_WEIGHTS)]
        return codes

    @cached_property
    def browser_ids(self) -> np.ndarray:
        """The browser ids (cookie values) of the chunk's people, owner by owner."""
        return _obj(_uuids(rng(self.seed, 90, self.chunk), int(self.browser_counts.sum())))

    @cached_property
    def device_ids(self) -> np.ndarray:
        """The SmartApp+ device ids of the chunk's people, owner by owner."""
        return _obj(_uuids(rng(self.seed, 91, self.chunk), int(self.device_counts.sum())))


def people(seed: int, chunk: int, start: int, count: int, pools: Pools) -> People:
    """People ``start + 1 .. start + count``, chunk ``chunk`` of the build."""
    return People(seed, chunk, start, count, pools)


# --- one generator per dataset ---------------------------------------------------------------------


def gen_accounts(p: People, g: np.random.Generator, pools: Pools) -> Tables:
    n = p.size
    owners, rank = _repeat(p.browser_counts)
    return {
        "customers": {
            "id": p.ids.tolist(), "customer_number": p.customer_number.tolist(), "email": p.email.tolist(),
            "phone": p.phone.tolist(),
            "first_name": p.first.tolist(), "last_name": p.last.tolist(), "birth_date": _days(p.birth_date),
            "street": _pick(g, pools.streets, n), "city": _pick(g, pools.cities, n),
            "postcode": _pick(g, pools.postcodes, n), "country": p.country.tolist(),
            "password_hash": _pick(g, pools.password_hashes, n),
            "created_at": _stamps(p.created),
        },
        "customer_browsers": {
            "id": (p.ids[owners] * 16 + rank).tolist(), "customer_id": p.ids[owners].tolist(),
            "browser_id": p.browser_ids.tolist(), "first_seen": _stamps(p.created[owners]),
        },
    }


def gen_products(p: People, g: np.random.Generator, pools: Pools) -> Tables:
    counts = g.choice(4, size=p.size, p=(0.45, 0.35, 0.15, 0.05))
    owners, rank = _repeat(counts)
    m = len(owners)
    purchased = _before(g, m, 10, 9 * 365)
    return {"registrations": {
        "id": (p.ids[owners] * 16 + rank).tolist(),
        "customer_number": p.customer_number[owners].tolist(),
        "product_model": _pick(g, PRODUCTS, m),
        "serial_number": _numbered("SN", g.integers(0, 10**10, size=m), 10),
        "purchase_date": _days(purchased), "retailer": _pick(g, pools.retailers, m),
        "registered_at": _stamps(purchased + (g.integers(0, 30, size=m) * _DAY)),
    }}


def gen_shop(p: People, g: np.random.Generator, pools: Pools) -> Tables:
    counts = g.choice(4, size=p.size, p=(0.5, 0.3, 0.15, 0.05))
    owners, rank = _repeat(counts)
    m = len(owners)
    order_ids = p.ids[owners] * 16 + rank
    ordered = _before(g, m, 1, 12 * 365)
    names = [f"{a} {b}" for a, b in zip(p.first[owners].tolist(), p.last[owners].tolist(), strict=True)]
    streets, cities = _pick(g, pools.streets, m), _pick(g, pools.cities, m)
    postcodes = _pick(g, pools.postcodes, m)
    line_counts = g.choice((1, 2, 3), size=m, p=(0.7, 0.25, 0.05))
    l_owner, l_rank = _repeat(line_counts)
    prices = np.round(g.uniform(9.99, 2499.0, size=len(l_owner)), 2)
    quantity = g.choice((1, 1, 1, 2), size=len(l_owner))
    totals = np.zeros(m)
    np.add.at(totals, l_owner, prices * quantity)
    totals = np.round(totals, 2)
    cancelled = g.random(m) < 0.05
    invoiced = np.flatnonzero(~cancelled)
    emails = p.email[owners].tolist()
    return {
        "orders": {
            "id": order_ids.tolist(), "customer_number": p.customer_number[owners].tolist(),
            "email": emails, "ordered_at": _stamps(ordered),
            "status": np.where(cancelled, "cancelled", "delivered").tolist(),
            "shipping_name": names, "shipping_street": streets, "shipping_city": cities,
            "shipping_postcode": postcodes, "shipping_country": p.country[owners].tolist(),
            "total": totals.tolist(),
        },
        "order_lines": {
            "id": (order_ids[l_owner] * 4 + l_rank).tolist(), "order_id": order_ids[l_owner].tolist(),
            "product_model": _pick(g, PRODUCTS, len(l_owner)), "quantity": quantity.tolist(),
            "unit_price": prices.tolist(),
        },
        "invoices": {
            "id": order_ids[invoiced].tolist(), "order_id": order_ids[invoiced].tolist(),
            "invoice_number": _numbered("INV", order_ids[invoiced], 12),
            "issued_on": _days(ordered[invoiced]),
            "billing_name": [names[i] for i in invoiced.tolist()],
            "billing_address": [f"{streets[i]}, {postcodes[i]} {cities[i]}" for i in invoiced.tolist()],
            "email": [emails[i] for i in invoiced.tolist()],
            "total": totals[invoiced].tolist(),
        },
    }


def gen_support(p: People, g: np.random.Generator, pools: Pools) -> Tables:
    counts = g.choice(3, size=p.size, p=(0.75, 0.2, 0.05))
    owners, rank = _repeat(counts)
    m = len(owners)
    ids = p.ids[owners] * 16 + rank
    channel = np.array(("email", "phone", "web"), dtype=object)[g.choice(3, size=m, p=(0.45, 0.35, 0.2))]
    created = _before(g, m, 1, 6 * 365)
    phones = p.phone[owners].tolist()
    on_phone = np.flatnonzero((channel == "phone") & (g.random(m) < 0.8))
    known = g.random(m) < 0.9
    numbers = p.customer_number[owners]
    numbers[~known] = None
    return {
        "tickets": {
            "id": ids.tolist(),
            "customer_number": numbers.tolist(),
            "email": p.email[owners].tolist(), "phone": phones, "channel": channel.tolist(),
            "subject": _pick(g, pools.titles, m), "body": _pick(g, pools.sentences, m),
            "status": np.where(g.random(m) < 0.9, "closed", "open").tolist(), "created_at": _stamps(created),
        },
        "call_recordings": {
            "id": ids[on_phone].tolist(), "ticket_id": ids[on_phone].tolist(),
            "phone": [phones[i] for i in on_phone.tolist()], "recorded_at": _stamps(created[on_phone]),
            "duration_s": g.integers(30, 1800, size=len(on_phone)).tolist(),
            "audio_uri": [f"s3://support-recordings/{v}.opus" for v in ids[on_phone].tolist()],
            "announced": [True] * len(on_phone),
        },
    }


def gen_community(p: People, g: np.random.Generator, pools: Pools) -> Tables:
    member = np.flatnonzero(g.random(p.size) < 0.08)
    member_ids = p.ids[member]
    counts = g.choice((0, 1, 2, 3, 4), size=len(member), p=(0.2, 0.35, 0.25, 0.12, 0.08))
    owners, rank = _repeat(counts)
    m = len(owners)
    post_ids = member_ids[owners] * 16 + rank
    posted = _before(g, m, 1, 5 * 365)
    # about a third of the posts answer an earlier post of someone else in the same chunk
    reply_to: list[int | None] = [None] * m
    order = np.argsort(posted, kind="stable").tolist()
    wants = (g.random(m) < 0.33).tolist()
    picks = g.random(m).tolist()
    earlier: list[int] = []
    for i in order:
        if wants[i] and earlier:
            candidate = earlier[int(picks[i] * len(earlier))]
            if owners[candidate] != owners[i]:
                reply_to[i] = int(post_ids[candidate])
        earlier.append(i)
    titles = _pick(g, pools.titles, m)
    return {
        "members": {
            "id": member_ids.tolist(), "customer_number": p.customer_number[member].tolist(),
            "nickname": [f"{n}{v}" for n, v in zip(_pick(g, pools.nicknames, len(member)), member_ids.tolist(),
                                                      strict=True)],
            "joined_at": _stamps(p.created[member]),
        },
        "posts": {
            "id": post_ids.tolist(), "member_id": member_ids[owners].tolist(), "reply_to": reply_to,
            "title": [None if r is not None else t for r, t in zip(reply_to, titles, strict=True)],
            "body": _pick(g, pools.sentences, m), "posted_at": _stamps(posted),
        },
    }


def gen_marketing(p: People, g: np.random.Generator, pools: Pools) -> Tables:
    counts = g.choice(3, size=p.size, p=(0.6, 0.3, 0.1))
    owners, rank = _repeat(counts)
    m = len(owners)
    subscribed = _before(g, m, 1, 8 * 365)
    confirmed = g.random(m) < 0.9
    entrants = np.flatnonzero(g.random(p.size) < 0.15)
    k = len(entrants)
    return {
        "newsletter_subscriptions": {
            "id": (p.ids[owners] * 16 + rank).tolist(), "email": p.email[owners].tolist(),
            "topic": np.array(NEWSLETTER_TOPICS, dtype=object)[(rank + g.integers(0, 5, size=m)) % 5].tolist(),
            "source": _pick(g, SOURCES, m), "subscribed_at": _stamps(subscribed),
            "confirmed_at": _stamps(np.where(confirmed, subscribed + 3600 * np.timedelta64(1, "s"),
                                             np.datetime64("NaT", "s"))),
        },
        "promotion_entries": {
            "id": p.ids[entrants].tolist(), "email": p.email[entrants].tolist(),
            "phone": p.phone[entrants].tolist(),
            "full_name": [f"{a} {b}" for a, b in zip(p.first[entrants].tolist(), p.last[entrants].tolist(),
                                                     strict=True)],
            "postcode": _pick(g, pools.postcodes, k),
            "promotion_code": [f"PROMO{y}" for y in g.integers(2019, 2026, size=k).tolist()],
            "entered_at": _stamps(_before(g, k, 1, 6 * 365)), "prize_won": (g.random(k) < 0.02).tolist(),
        },
    }


def tier_for(registered: int) -> str:
    """S4: Red, Silver, Gold and Platinum by the number of registered products (Black only by invitation)."""
    if registered >= 10:
        return "Platinum"
    if registered >= 6:
        return "Gold"
    if registered >= 3:
        return "Silver"
    return "Red"


def gen_lumix_pro(p: People, g: np.random.Generator, pools: Pools) -> Tables:
    member = np.flatnonzero(g.random(p.size) < 0.03)
    k = len(member)
    ids = p.ids[member]
    registered = g.choice(np.arange(1, 13), size=k)
    invited: list[int | None] = [None] * k
    invite = (g.random(k) < 0.1).tolist()
    for i in range(1, k):
        if invite[i]:
            invited[i] = int(ids[int(g.integers(0, i))])
    tiers = ["Black" if inv is not None else tier_for(int(r)) for inv, r in zip(invited, registered.tolist(),
                                                                                 strict=True)]
    starts = _before(g, k, 30, 6 * 365).astype("datetime64[D]")
    owners, rank = _repeat(registered)
    m = len(owners)
    return {
        "members": {
            "id": ids.tolist(), "membership_number": _numbered("LPX", ids, 9),
            "internal_number": _numbered("I", ids * 37, 11),
            "customer_number": p.customer_number[member].tolist(),
            "first_name": p.first[member].tolist(), "surname": p.last[member].tolist(),
            "birth_date": _days(p.birth_date[member]), "tier": tiers,
            "registered_products": registered.tolist(), "invited_by": invited,
            "starts_on": _days(starts), "expires_on": _days(starts + np.timedelta64(2 * 365, "D")),
        },
        "member_products": {
            "id": (ids[owners] * 16 + rank).tolist(), "member_id": ids[owners].tolist(),
            "product_model": _pick(g, PRODUCTS[:7], m),
            "serial_number": _numbered("LX", g.integers(0, 10**10, size=m), 10),
            "invoice_copy_uri": [f"s3://lumix-pro-invoices/{v}.pdf" for v in (ids[owners] * 16 + rank).tolist()],
            "registered_on": _days(_before(g, m, 30, 6 * 365)),
        },
    }


def gen_smartapp(p: People, g: np.random.Generator, pools: Pools) -> Tables:
    owners, rank = _repeat(p.device_counts)
    m = len(owners)
    dev_row = p.ids[owners] * 16 + rank
    paired = _before(g, m, 30, 4 * 365)
    log_counts = g.integers(1, 3, size=m)
    lo, lr = _repeat(log_counts)
    loc_counts = g.integers(0, 3, size=m)
    co, cr = _repeat(loc_counts)
    lat = np.round(g.uniform(35.0, 58.0, size=len(co)), 6)
    lon = np.round(g.uniform(-8.0, 140.0, size=len(co)), 6)
    return {
        "devices": {
            "id": dev_row.tolist(), "device_id": p.device_ids.tolist(),
            "customer_number": p.customer_number[owners].tolist(),
            "model": _pick(g, APPLIANCES, m),
            "firmware_version": _text(np.insert(g.integers(1, 10, size=(m, 3)) + 48, (1, 2), ord("."), axis=1)),
            "paired_at": _stamps(paired),
        },
        "device_logs": {
            "id": (dev_row[lo] * 8 + lr).tolist(), "device_id": p.device_ids[lo].tolist(),
            "logged_at": _stamps(_before(g, len(lo), 0, 365)), "event": _pick(g, DEVICE_EVENTS, len(lo)),
            "detail": [None] * len(lo),
        },
        "location_logs": {
            "id": (dev_row[co] * 8 + cr).tolist(), "device_id": p.device_ids[co].tolist(),
            "recorded_at": _stamps(_before(g, len(co), 0, 180)), "latitude": lat.tolist(),
            "longitude": lon.tolist(), "accuracy_m": g.integers(5, 200, size=len(co)).tolist(),
        },
    }


def gen_smart_home(p: People, g: np.random.Generator, pools: Pools) -> Tables:
    owners, rank = _repeat(p.device_counts)
    dev_row = p.ids[owners] * 16 + rank
    connected = np.flatnonzero(g.random(len(owners)) < 0.6)
    k = len(connected)
    octets = g.integers(1, 255, size=(k, 4))
    macs = g.integers(0, 256, size=(k, 6))
    return {"connections": {
        "id": dev_row[connected].tolist(), "device_id": p.device_ids[connected].tolist(),
        "ip_address": _ips(octets), "mac_address": _macs(macs),
        "software_version": _versions(g.integers(1, 20, size=(k, 2))),
        "connected_at": _stamps(_before(g, k, 0, 90)),
    }}


def gen_analytics(p: People, g: np.random.Generator, pools: Pools) -> Tables:
    browsers = len(p.browser_ids)
    counts = g.choice(4, size=browsers, p=(0.35, 0.35, 0.2, 0.1))
    owners, rank = _repeat(counts)
    m = len(owners)
    person_of_browser, browser_rank = _repeat(p.browser_counts)
    octets = g.integers(1, 255, size=(m, 4))
    return {"page_views": {
        "id": (p.ids[person_of_browser[owners]] * 64 + browser_rank[owners] * 16 + rank).tolist(),
        "browser_id": p.browser_ids[owners].tolist(),
        "viewed_at": _stamps(_before(g, m, 0, 400)), "path": _pick(g, PATHS, m),
        "referrer": _pick(g, REFERRERS, m), "user_agent": _pick(g, USER_AGENTS, m),
        "ip_address": _ips(octets),
    }}


GENERATORS: dict[str, Callable[[People, np.random.Generator, Pools], Tables]] = {
    "accounts": gen_accounts, "products": gen_products, "shop": gen_shop, "support": gen_support,
    "community": gen_community, "marketing": gen_marketing, "lumix_pro": gen_lumix_pro, "smartapp": gen_smartapp,
    "smart_home": gen_smart_home, "analytics": gen_analytics,
}
#: The random stream of each dataset (stream 0 is the people themselves).
STREAMS = {name: index + 1 for index, name in enumerate(GENERATORS)}


def chunk_rows(dataset: str, seed: int, chunk: int, start: int, count: int, pools: Pools,
               crowd: People | None = None) -> Tables:
    """The rows of ``dataset`` for people ``start + 1 .. start + count`` (``crowd``: those people, if drawn already)."""
    crowd = crowd if crowd is not None else people(seed, chunk, start, count, pools)
    return GENERATORS[dataset](crowd, rng(seed, STREAMS[dataset], chunk), pools)
