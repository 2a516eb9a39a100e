"""meta-sim checked with an independent Cloud API client (pywa, from PyPI).

Run by meta-sim's test `pywa::pywa_parses_meta_sims_sends_errors_media_and_template_listing`
against a meta-sim started with the configuration that test writes:

    python check_meta_sim.py http://127.0.0.1:PORT

Exits non-zero (with a traceback) on the first thing pywa does not parse as Meta's answer.
"""

import sys

import httpx
from pywa import WhatsApp, errors
from pywa.types import Pagination
from pywa.types.templates import BodyText, HeaderText, TemplateLanguage

BASE = sys.argv[1].rstrip("/")
VERSION = "v24.0"
ANA, BEN = "15550001234", "15550005678"


def client(phone_id, token, waba_id):
    wa = WhatsApp(phone_id=phone_id, token=token, waba_id=waba_id)
    # pywa always talks to graph.facebook.com: point its session at the simulator.
    wa.api._session.base_url = f"{BASE}/{VERSION}"
    return wa


def expect(error_class, call):
    try:
        call()
    except error_class as e:
        return e
    raise AssertionError(f"expected {error_class.__name__}")


wa = client("111", "EAApywa", "222")

# Ana writes first, so a free-form reply is inside the 24-hour window.
r = httpx.post(
    f"{BASE}/_sim/customer_sends",
    json={"user": "US.1001", "phone_number_id": "111", "text": "hi"},
)
r.raise_for_status()

# Sends: text and template (header and body parameters) parse as sent messages.
text = wa.send_message(to=ANA, text="Hello from pywa")
assert text.id.startswith("wamid."), text
template = wa.send_template(
    to=ANA,
    name="order_update",
    language=TemplateLanguage.ENGLISH_US,
    params=[HeaderText.params("A-1"), BodyText.params("Ana", "A-1")],
)
assert template.id.startswith("wamid."), template
print("sends: text", text.id, "template", template.id)

# The typed errors.
e = expect(errors.ReEngagementMessage, lambda: wa.send_message(to=BEN, text="outside the window"))
assert e.code == 131047, e
bad = client("111", "EAAwrong", "222")
e = expect(errors.ExpiredAccessToken, lambda: bad.send_message(to=ANA, text="bad token"))
assert e.code == 190, e


def pair_rate():
    # Bursts of up to 45 to one person pass; then Meta's pair rate limit answers.
    for _ in range(60):
        wa.send_template(to=BEN, name="thanks", language=TemplateLanguage.ENGLISH_US)


e = expect(errors.TooManyMessages, pair_rate)
assert e.code == 131056, e
slow = client("333", "EAAslow", "444")


def throughput():
    # One message per second on this number: the second within the second is refused.
    for _ in range(5):
        slow.send_template(to=ANA, name="thanks", language=TemplateLanguage.ENGLISH_US)


e = expect(errors.RateLimitHit, throughput)
assert e.code == 130429, e
print("errors: 131047, 190, 131056, 130429 parsed into pywa's classes")

# Media upload.
media = wa.upload_media(media=b"\x89PNG\r\n\x1a\n" + b"\0" * 64, mime_type="image/png", filename="a.png")
assert media.id, media
print("media: uploaded", media.id)

# The template listing: every template parses (components with variables carry Meta's
# `example`), the summary is there, and paging works.
listing = wa.get_templates()
names = sorted(t.name for t in listing)
assert names == ["order_update", "thanks", "welcome_named"], names
assert listing.total_count == 3, listing
by_name = {t.name: t for t in listing}
order = by_name["order_update"]
assert order.parameter_format.value == "POSITIONAL", order
kinds = [c.type.value for c in order.components]
assert kinds == ["HEADER", "BODY"], kinds
named = by_name["welcome_named"]
assert named.parameter_format.value == "NAMED", named
page = wa.get_templates(pagination=Pagination(limit=2))
assert len(page) == 2 and page.has_next, page
# (pywa's own `page.next()` cannot build a TemplatesResult in 4.5.0: follow the cursor instead.)
rest = wa.get_templates(pagination=Pagination(limit=2, after=page.after))
assert len(rest) == 1 and not rest.has_next, rest
print("templates:", names, "summary total", listing.total_count)
print("pywa: all checks passed")
