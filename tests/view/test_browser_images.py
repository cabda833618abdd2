"""Images in the viewer: an image part of an item (a user's ``input_image``, a ``view_image``
tool's output, a generated image) was the text ``[input_image]``, and its payload base64 text.
Now the text names the payload and links it, the item shows a thumbnail read when it is drawn,
and the opened payload shows the image above its text. Only data: URLs of PNG, JPEG, GIF and
WebP are drawn: an SVG, a remote URL and an image a capture limit cut are said, not drawn."""

from __future__ import annotations

import base64
import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.view.serve import ViewServer

from ..conftest import CONFORMANCE, CONFORMANCE_V3, conformance_bundles
from .conftest import Page, write_page


def _png(width: int, height: int, rgb: tuple[int, int, int], tail: bytes = b"") -> bytes:
    """A PNG of one colour (``tail``: bytes after it, to make it large)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
        + tail
    )


def _data_url(kind: str, data: bytes) -> str:
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


#: A 6x4 green PNG (drawn); an SVG carrying script and a remote URL (said, never drawn); a
#: 15 kB PNG that ``max_payload_bytes`` cuts (said cut, no broken image).
GREEN = _data_url("image/png", _png(6, 4, (0, 160, 0)))
SVG = _data_url(
    "image/svg+xml",
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="window.__svg=1"><script>window.__svg=1'
    b"</script></svg>",
)
REMOTE = "https://images.invalid/cat.png"
BIG = _data_url("image/png", _png(40, 40, (0, 0, 200), bytes(range(256)) * 40))
#: What an image generation call returned (bare base64, as Codex gets it).
GENERATED = base64.b64encode(_png(3, 3, (200, 0, 0))).decode()

_RECORD = """
import sys, anyio
from rollout_trace_sdk.record import open_rollout

GREEN, SVG, REMOTE, BIG, GENERATED = sys.argv[2:7]

def image(url):
    return {"type": "input_image", "image_url": url, "detail": "auto"}

async def main(root):
    async with open_rollout(root, model="m", schema_version=3, max_payload_bytes=4000) as rollout, rollout.root.turn() as turn:
        content = [{"type": "input_text", "text": "look"}, image(GREEN), image(SVG), image(REMOTE), image(BIG)]
        history = turn.accept({"type": "message", "role": "user", "content": content})
        drawn = {"type": "image_generation_call", "id": "ig_1", "status": "completed", "result": GENERATED}
        said = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "seen"}]}
        async with turn.inference({"model": "m", "input": history}) as call:
            call.completed(output_items=[drawn, said])
    print(rollout.bundle_dir)

anyio.run(main, sys.argv[1])
"""


@pytest.fixture(scope="module")
def images_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recorded schema-3 rollout: a user message with the four images above, the model's
    answer with a generated image. Recorded in a child process: Playwright keeps an event loop
    running in the test thread."""
    root = tmp_path_factory.mktemp("images")
    done = subprocess.run(
        [sys.executable, "-c", _RECORD, str(root), GREEN, SVG, REMOTE, BIG, GENERATED],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(done.stdout.strip())


def _thumbs(p: Any) -> list[dict[str, Any]]:
    """Each thumbnail of the details pane, once none is still loading: its text, and its
    image's decoded width (None when it holds none)."""
    p.wait_for_function(
        "() => [...document.querySelectorAll('.thumb')].every(t => !t.querySelector('.muted') ||"
        " !/^[a-z_ ]+ · raw_payload/.test(t.textContent)) &&"
        " [...document.querySelectorAll('.thumb img')].every(i => i.complete)"
    )
    shown: list[dict[str, Any]] = p.eval_on_selector_all(
        ".thumb",
        "ts => ts.map(t => ({text: t.textContent, w: t.querySelector('img') ?"
        " t.querySelector('img').naturalWidth : null}))",
    )
    return shown


def _opened(p: Any) -> dict[str, Any]:
    """The opened payload's image (its decoded width) or its note, and its text."""
    p.wait_for_selector("#payload-view [data-testid=payload]")
    p.wait_for_function(
        "() => [...document.querySelectorAll('#payload-view img')].every(i => i.complete)"
    )
    shown: dict[str, Any] = p.evaluate(
        """() => { const v = document.getElementById('payload-view'), img = v.querySelector('img');
        const note = v.querySelector('[data-testid=payload-image].note');
        return {w: img ? img.naturalWidth : null, note: note ? note.textContent : '',
                capture: (v.querySelector('[data-testid=capture]') || {}).textContent || '',
                text: v.querySelector('[data-testid=payload]').textContent}; }"""
    )
    return shown


def test_a_recorded_rollouts_images_are_drawn_linked_and_refused(
    csp_page: Page, images_bundle: Path, tmp_path: Path, artifacts: Path
) -> None:
    page = csp_page  # the page's own CSP in force: what it allows is what is checked
    requests: list[str] = []
    page.page.on("request", lambda r: requests.append(r.url))
    url = write_page(images_bundle, tmp_path / "page.html")
    p = page.open(url)
    assert p.eval_on_selector_all("img", "is => is.length") == 0  # nothing read at load
    # the page's CSP refuses an image from anywhere but data: (Playwright still reports the
    # request it blocked)
    violated = p.evaluate(
        """() => new Promise((done) => {
        document.addEventListener("securitypolicyviolation", (e) => done(e.violatedDirective));
        const img = new Image();  // without the CSP: the load fails, no violation
        img.onerror = () => setTimeout(() => done("no violation"), 500);
        img.src = "http://127.0.0.1:9/x.png"; document.body.append(img); img.remove(); })"""
    )
    assert violated == "img-src"
    assert len(page.errors) == 1 and "violates the following Content Security" in page.errors[0]
    page.errors.clear()
    p.click("#list .row")
    thumbs = _thumbs(p)
    assert [t["w"] for t in thumbs] == [6, None, None, None, 3], thumbs
    assert "image/svg+xml data URL: not drawn" in thumbs[1]["text"]
    assert "remote image, not fetched" in thumbs[2]["text"] and REMOTE in thumbs[2]["text"]
    assert "image cut by a capture limit: not drawn" in thumbs[3]["text"]
    p.locator(".thumb").nth(0).scroll_into_view_if_needed()
    p.screenshot(path=str(artifacts / "images-thumbnails.png"))

    # the text names each image's payload, and links it: Tab reaches it, Enter opens it
    links = p.locator(".ib [data-img]")
    assert links.count() == 3
    names = links.all_inner_texts()
    assert len(set(names)) == 1 and names[0].startswith("[input_image raw_payload:")
    links.nth(0).focus()
    p.keyboard.press("Enter")
    opened = _opened(p)
    assert opened["w"] == 6 and opened["note"] == "" and "data:image/png;base64," in opened["text"]
    p.screenshot(path=str(artifacts / "images-opened.png"))
    links.nth(1).click()
    opened = _opened(p)
    assert opened["w"] is None and "image/svg+xml data URL: not drawn" in opened["note"]
    links.nth(2).click()
    opened = _opened(p)
    assert opened["w"] is None and opened["note"].startswith("remote image, not fetched")
    assert REMOTE in opened["note"]
    # the cut image: its note opens the kept bytes, said cut, and no image
    p.click(".ib [data-payload]:not([data-img])")
    opened = _opened(p)
    assert opened["w"] is None and "truncated" in opened["capture"]
    p.locator(".thumb").nth(3).click()
    opened = _opened(p)
    assert opened["w"] is None and opened["note"] == "image cut by a capture limit: not drawn"
    p.locator(".thumb").nth(4).click()  # the generated image, from the response
    assert _opened(p)["w"] == 3

    assert p.evaluate("window.__svg") is None
    drawn = "is => is.filter(i => !i.src.startsWith('data:image/png;base64,')).length"
    assert p.eval_on_selector_all("img", drawn) == 0
    assert requests == [url, "http://127.0.0.1:9/x.png"]  # the page fetched nothing itself
    assert page.errors == []


def test_show_names_the_payload_the_page_links(images_bundle: Path) -> None:
    out = io.StringIO()
    assert main(["show", str(images_bundle)], out=out) == 0
    text = out.getvalue()
    link = next(line.strip() for line in text.splitlines() if "[input_image raw_payload:" in line)
    assert text.count(link) == 3, text
    assert "[input_image: raw_payload:" in text and "truncated" in text


def test_the_served_page_reads_an_image_from_the_server(page: Page, images_bundle: Path) -> None:
    """Served, a thumbnail's payload is fetched from the server (the page's CSP allows it)."""
    with ViewServer(images_bundle, 0) as server:
        p = page.open(server.url)
        p.click("#list .row")
        assert [t["w"] for t in _thumbs(p)] == [6, None, None, None, 3]
    assert page.errors == []


CORPUS_IMAGES = [
    b
    for corpus in (CONFORMANCE, CONFORMANCE_V3)
    for b in conformance_bundles(corpus)
    if b.parent.name in ("user_image_input", "view_image")
]


@pytest.mark.skipif(not CORPUS_IMAGES, reason="../shared/conformance* is not present")
@pytest.mark.parametrize(
    "bundle", CORPUS_IMAGES, ids=[f"{b.parent.parent.name}-{b.parent.name}" for b in CORPUS_IMAGES]
)
def test_codexs_image_bundles_show_the_image(page: Page, bundle: Path, tmp_path: Path) -> None:
    """Codex's own images (``red.png``, 4x4): the user's, and ``view_image``'s output in the
    tool call's result; found by hash in the request payload the part names."""
    p = page.open(write_page(bundle, tmp_path / "page.html"))
    if bundle.parent.name == "view_image":
        assert p.evaluate("window.__rt.select('call_img')")  # the image is its result
    else:
        p.click("#list .row")  # the one inference call: the user's message
    thumbs = _thumbs(p)
    assert [t["w"] for t in thumbs] == [4], thumbs
    p.click("[data-img]")
    assert _opened(p)["w"] == 4
    assert page.errors == []
