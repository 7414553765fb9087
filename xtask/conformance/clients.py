"""Third-party Python clients against a running venice-mock (run by `cargo xtask conformance`).

Usage: python clients.py BASE_URL API_KEY WALLET_PRIVATE_KEY

Every image call the official `openai` SDK and `venice-py` offer, each checked for the
right bytes (decoded with Pillow: format and pixel size). Prints one line per check and
a closing "N passed, M failed" line; exits non-zero on any failure.
"""

import asyncio
import base64
import io
import sys
import traceback

from PIL import Image

BASE, KEY, WALLET_KEY = sys.argv[1], sys.argv[2], sys.argv[3]
RESULTS = []


def image_of(data, fmt, size=None, mode=None):
    """Decodes image bytes and checks their format, size and colour mode."""
    img = Image.open(io.BytesIO(data))
    img.load()
    assert img.format == fmt, f"expected {fmt}, got {img.format}"
    if size is not None:
        assert img.size == size, f"expected {size}, got {img.size}"
    if mode is not None:
        assert img.mode == mode, f"expected mode {mode}, got {img.mode}"
    return img


def png_bytes(width, height, colour=(200, 40, 40)):
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, format="PNG")
    return buf.getvalue()


async def check(name, coro):
    try:
        detail = await coro
        RESULTS.append((name, True))
        print(f"ok    {name}" + (f" ({detail})" if detail else ""), flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
        RESULTS.append((name, False))
        print(f"FAIL  {name}: {type(e).__name__}: {e}", flush=True)
        traceback.print_exc(limit=3, file=sys.stdout)


# --- venice-py ---------------------------------------------------------------------

async def venice_py():
    from venice_ai import VeniceClient
    from venice_ai.auth.x402 import X402Auth
    from venice_ai.exceptions import InvalidRequestError, PaymentRequiredError

    async with VeniceClient(api_key=KEY, base_url=BASE, max_retries=0) as client:

        async def models():
            listed = {}
            for kind in ("image", "inpaint", "upscale"):
                response = await client.models.list(type=kind)
                listed[kind] = [m.id for m in response.data]
            assert "grok-imagine-image" in listed["image"], listed["image"]
            for m in (await client.models.list(type="image")).data:
                c = m.model_spec.constraints
                assert c is not None and c.promptCharacterLimit and c.steps and c.widthHeightDivisor, m.id
            return f"{len(listed['image'])} image, {len(listed['inpaint'])} inpaint, {len(listed['upscale'])} upscale"

        async def styles():
            styles = await client.image.list_styles()
            assert len(styles.data) > 0
            return f"{len(styles.data)} styles"

        async def generate(model, expect, **kw):
            r = await client.image.create(model=model, prompt="a lighthouse", **kw)
            for b64 in r.images:
                image_of(base64.b64decode(b64), "WEBP" if "format" not in kw else kw["format"].upper(), expect)
            return f"{len(r.images)} x {expect[0]}x{expect[1]}"

        async def binary(fmt, pil):
            data = await client.image.create(
                model="venice-sd35", prompt="a binary cat", width=256, height=256,
                format=fmt, return_binary=True)
            image_of(data, pil, (256, 256))
            return f"{len(data)} bytes"

        async def default_model():
            r = await client.image.create(model="grok-imagine-image", prompt="the provider's example")
            image_of(base64.b64decode(r.images[0]), "WEBP", (1024, 1024))

        async def simple():
            r = await client.image.simple_generate(model="z-image-turbo", prompt="an openai-style cat",
                                                   size="512x512", response_format="b64_json")
            image_of(base64.b64decode(r.data[0].b64_json), "PNG", (512, 512))

        async def simple_without_model():
            # venice-py sends no model unless given one: the provider's 400.
            try:
                await client.image.simple_generate(prompt="no model", size="512x512",
                                                   response_format="b64_json")
            except InvalidRequestError as e:
                assert "model is required" in str(e), e
                return "400 model is required"
            raise AssertionError("a request without a model was accepted")

        async def upscale():
            data = await client.image.upscale(image=png_bytes(300, 256), scale=2)
            image_of(data, "PNG", (600, 512))
            return "multipart"

        async def background():
            data = await client.image.background_remove(image=png_bytes(256, 256))
            image_of(data, "PNG", (256, 256), mode="RGBA")
            return "multipart"

        async def edit():
            data = await client.image.edit(prompt="make it blue", image=png_bytes(320, 256),
                                           model="qwen-image-2-edit")
            image_of(data, "PNG", (320, 256))

        async def multi_edit():
            data = await client.image.multi_edit(prompt="blend", image=png_bytes(256, 256),
                                                 image_2=png_bytes(256, 256, (0, 90, 200)),
                                                 output_format="webp")
            image_of(data, "WEBP", (256, 256))

        await check("venice-py models.list image/inpaint/upscale", models())
        await check("venice-py image.list_styles", styles())
        await check("venice-py generate pixels (venice-sd35 512x384)",
                    generate("venice-sd35", (512, 384), width=512, height=384))
        await check("venice-py generate aspect ratio (qwen-image-2 16:9)",
                    generate("qwen-image-2", (1024, 576), aspect_ratio="16:9"))
        await check("venice-py generate aspect ratio + resolution (nano-banana-pro 9:16 2K)",
                    generate("nano-banana-pro", (1152, 2048), aspect_ratio="9:16", resolution="2K"))
        await check("venice-py generate quality (gpt-image-2 low)",
                    generate("gpt-image-2", (1024, 1024), quality="low", format="png"))
        await check("venice-py generate variants (num_images=3)",
                    generate("z-image-turbo", (512, 512), width=512, height=512, num_images=3))
        await check("venice-py generate the provider's example model", default_model())
        await check("venice-py binary png", binary("png", "PNG"))
        await check("venice-py binary webp", binary("webp", "WEBP"))
        await check("venice-py binary jpeg", binary("jpeg", "JPEG"))
        await check("venice-py images/generations", simple())
        await check("venice-py images/generations without a model is the provider's 400",
                    simple_without_model())
        await check("venice-py upscale (multipart)", upscale())
        await check("venice-py background removal (multipart)", background())
        await check("venice-py edit", edit())
        await check("venice-py multi-edit", multi_edit())

        auth = X402Auth(private_key=WALLET_KEY)

        async def balance():
            b = await client.x402.balance(auth=auth)
            assert b.success and b.data.walletAddress.lower() == auth.wallet_address.lower()
            return f"${b.data.balanceUsd}"

        async def probe():
            try:
                await client.x402.top_up()
            except PaymentRequiredError as e:
                accepts = e.body["accepts"]
                assert accepts[0]["network"] == "eip155:8453", accepts
                assert set(e.body) == {"x402Version", "accepts"}, e.body
                return f"{accepts[0]['amount']} units of {accepts[0]['asset'][:10]}..."
            raise AssertionError("the top-up probe did not answer 402")

        async def top_up():
            before = (await client.x402.balance(auth=auth)).data.balanceUsd
            r = await client.x402.top_up_with(auth=auth, amount_usdc=5.0)
            assert abs(r.data.amountCredited - 5.0) < 1e-9, r
            after = (await client.x402.balance(auth=auth)).data.balanceUsd
            assert abs(after - before - 5.0) < 1e-9, (before, after)
            return f"${before} -> ${after}"

        async def wallet_generate():
            async with VeniceClient(auth=auth, base_url=BASE, max_retries=0) as wallet_client:
                r = await wallet_client.image.create(model="venice-sd35", prompt="paid by a wallet",
                                                     width=256, height=256)
                image_of(base64.b64decode(r.images[0]), "WEBP", (256, 256))

        async def transactions():
            t = await client.x402.transactions(auth=auth, limit=10)
            kinds = [tx.type for tx in t.data.transactions]
            assert "TOP_UP" in kinds and "CHARGE" in kinds, kinds
            return f"{len(kinds)} entries {kinds}"

        await check("venice-py x402 balance (signed wallet)", balance())
        await check("venice-py x402 top-up 402 probe", probe())
        await check("venice-py x402 top-up (signed EIP-3009 payment)", top_up())
        await check("venice-py generate paid by a wallet (SIWX)", wallet_generate())
        await check("venice-py x402 transactions (signed wallet)", transactions())


# --- the official openai SDK ---------------------------------------------------------

async def openai_sdk():
    import openai

    client = openai.OpenAI(api_key=KEY, base_url=BASE, max_retries=0)

    async def generations():
        r = client.images.generate(model="venice-sd35", prompt="an openai cat",
                                   response_format="b64_json", size="1024x1024")
        image_of(base64.b64decode(r.data[0].b64_json), "PNG", (1024, 1024))

    async def no_model():
        # The provider needs a model here (400 "model is required"; veniceai/skills
        # venice-image-generate), although its spec lists a "default" default.
        try:
            client.images.generate(prompt="no model named", response_format="b64_json",
                                   size="256x256")
        except openai.BadRequestError as e:
            body = e.response.json()
            assert body == {"error": "model is required"}, body
            return f"400 {body}"
        raise AssertionError("a request without a model was accepted")

    async def unknown_model():
        # An unknown name falls back to the default image model.
        r = client.images.generate(model="dall-e-3", prompt="falls back",
                                   response_format="b64_json", size="256x256")
        image_of(base64.b64decode(r.data[0].b64_json), "PNG", (256, 256))

    async def webp():
        r = client.images.generate(model="z-image-turbo", prompt="webp please", size="512x512",
                                   response_format="b64_json", extra_body={"output_format": "webp"})
        image_of(base64.b64decode(r.data[0].b64_json), "WEBP", (512, 512))

    async def n_two():
        try:
            client.images.generate(model="venice-sd35", prompt="two", n=2, response_format="b64_json")
        except openai.BadRequestError as e:
            return f"400: {str(e)[:60]}..."
        raise AssertionError("n=2 was accepted")

    await check("openai images.generate b64_json", generations())
    await check("openai images.generate without a model is the provider's 400", no_model())
    await check("openai images.generate with an unknown model falls back", unknown_model())
    await check("openai images.generate output_format webp", webp())
    await check("openai images.generate n=2 is a clear 400", n_two())


async def main():
    await venice_py()
    await openai_sdk()
    failed = sum(1 for _, ok in RESULTS if not ok)
    print(f"{len(RESULTS) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


asyncio.run(main())
