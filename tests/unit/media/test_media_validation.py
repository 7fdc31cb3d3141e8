"""Scheduling-time rules per platform and post type."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from herald.media import LocalMediaStore, MediaInfo, StoredMedia, probe
from herald.platforms.base import MediaItem
from herald.validation import MB, MiB, ValidationError, check_post, validate_post


def item(name: str = "a.jpg", kind: str = "image") -> dict[str, str]:
    return {"url": f"https://cdn.example/{name}", "type": kind}


def jpeg(width: int = 1080, height: int = 1080, size: int = 400_000, mime: str = "image/jpeg"):
    return MediaInfo(type="image", format=mime.split("/")[1].upper(), mime=mime, size=size,
                     width=width, height=height)


def mp4(width: int = 1080, height: int = 1920, seconds: float = 20.0, size: int = 20 * MB,
        mime: str = "video/mp4", faststart: bool = True):
    return MediaInfo(type="video", format="MP4", mime=mime, size=size, width=width,
                     height=height, duration=seconds, faststart=faststart)


def pdf(size: int = 2 * MB):
    return MediaInfo(type="document", format="PDF", mime="application/pdf", size=size)


def images(n: int, info: MediaInfo | None = None):
    return [item(f"{i}.jpg") for i in range(n)], [info or jpeg()] * n


def check(
    platform: str,
    post_type: str,
    caption: str = "Hello",
    media: Sequence[dict[str, str] | MediaItem] = (),
    options: dict[str, Any] | None = None,
    probes: Sequence[MediaInfo | StoredMedia | None] | None = None,
) -> list[str]:
    return validate_post(platform, post_type, caption, media, options, probes=probes)


# --- Instagram: caption ----------------------------------------------------------------


def test_instagram_caption_of_2200_is_fine_and_2201_is_not():
    assert check("instagram", "feed", "x" * 2200, [item()], probes=[jpeg()]) == []
    assert check("instagram", "feed", "x" * 2201, [item()], probes=[jpeg()]) == [
        "Instagram captions are limited to 2,200 characters; this one has 2,201."
    ]


def test_instagram_hashtags():
    thirty = " ".join(f"#tag{i}" for i in range(30))
    assert check("instagram", "feed", thirty, [item()]) == []
    assert check("instagram", "feed", thirty + " #one_more", [item()]) == [
        "Instagram captions may have at most 30 hashtags; this one has 31."
    ]


def test_numbers_and_entities_are_not_hashtags():
    caption = " ".join(f"#tag{i}" for i in range(30)) + " we're #1 &#39; issue #42"
    assert check("instagram", "feed", caption, [item()]) == []


def test_instagram_mentions():
    twenty = " ".join(f"@friend.{i}" for i in range(20)) + " mail me at me@example.com"
    assert check("instagram", "feed", twenty, [item()]) == []
    assert check("instagram", "feed", twenty + " @one_more", [item()]) == [
        "Instagram captions may mention at most 20 accounts (@name); this one has 21."
    ]


# --- Instagram: shapes -----------------------------------------------------------------


def test_instagram_feed_needs_one_item():
    assert check("instagram", "feed", media=[]) == [
        "An Instagram feed post needs exactly one image or video; this one has none."
    ]
    assert check("instagram", "feed", media=[item(), item("b.jpg")]) == [
        "An Instagram feed post needs exactly one image or video; this one has 2."
    ]


def test_instagram_feed_video_is_fine():
    assert check("instagram", "feed", media=[item("v.mp4", "video")], probes=[mp4()]) == []


def test_instagram_carousel_counts():
    for n in (2, 10):
        media, probes = images(n)
        assert check("instagram", "carousel", media=media, probes=probes) == []
    media, probes = images(1)
    assert check("instagram", "carousel", media=media, probes=probes) == [
        "An Instagram carousel needs 2 to 10 images or videos; this one has 1."
    ]
    media, probes = images(11)
    assert check("instagram", "carousel", media=media, probes=probes) == [
        "An Instagram carousel needs 2 to 10 images or videos; this one has 11."
    ]


def test_instagram_carousel_mixes_images_and_videos_but_not_documents():
    media = [item(), item("v.mp4", "video"), item("d.pdf", "document")]
    assert check("instagram", "carousel", media=media, probes=[jpeg(), mp4(), pdf()]) == [
        "An Instagram carousel can only contain images or videos; item 3 (d.pdf) is a document."
    ]


def test_instagram_reel_needs_a_video():
    assert check("instagram", "reel", media=[item()], probes=[jpeg()]) == [
        "An Instagram reel can only contain videos; item 1 (a.jpg) is an image."
    ]
    assert check("instagram", "reel", media=[]) == [
        "An Instagram reel needs exactly one video; this one has none."
    ]
    assert check("instagram", "reel", media=[item("r.mp4", "video")], probes=[mp4()]) == []
    # "video" is published as a reel too, so the same rules apply.
    assert check("instagram", "video", media=[item("r.mp4", "video")], probes=[mp4()]) == []
    assert check("instagram", "video", media=[item()], probes=[jpeg()]) == [
        "An Instagram video post (published as a reel) can only contain videos; item 1 (a.jpg) "
        "is an image."
    ]


def test_instagram_story_takes_any_aspect_but_feed_story_does_not():
    wide = jpeg(3000, 1000)
    assert check("instagram", "story", media=[item()], probes=[wide]) == []
    assert check("instagram", "story", media=[item("s.mp4", "video")], probes=[mp4()]) == []
    [problem] = check("instagram", "feed_story", media=[item()], probes=[wide])
    assert "aspect ratio" in problem
    assert check("instagram", "feed_story", media=[item()], probes=[jpeg()]) == []
    # Its video is a story too, so the story's 60-second limit applies.
    [problem] = check("instagram", "feed_story", media=[item("v.mp4", "video")],
                      probes=[mp4(seconds=90)])
    assert problem.startswith("Instagram story videos must last 3 seconds to 60 seconds")


@pytest.mark.parametrize(("post_type", "hint"), [("text", "needs an image or video"),
                                                 ("article", "no link posts")])
def test_instagram_refuses_types_it_cannot_publish(post_type, hint):
    [problem] = check("instagram", post_type, media=[])
    assert problem.startswith(f"Instagram cannot publish '{post_type}' posts here;")
    assert hint in problem


# --- Instagram: media ------------------------------------------------------------------


def test_gif_for_instagram(make_image):
    gif = probe(make_image("GIF", (500, 500)))
    assert check("instagram", "feed", media=[item("fun.gif")], probes=[gif]) == [
        "Instagram does not accept GIF images; item 1 (fun.gif) is a GIF. Post it as a video "
        "(MP4) or a still JPEG."
    ]


def test_png_by_url_for_instagram():
    [problem] = check("instagram", "feed", media=[item("p.png")],
                      probes=[jpeg(mime="image/png")])
    assert problem.startswith("Instagram accepts only JPEG images; item 1 (p.png) is PNG.")


def test_nine_megabyte_jpeg_for_instagram(make_image):
    # Random noise at quality 100 with no chroma subsampling: about 3 bytes a pixel.
    big = make_image("JPEG", (2000, 1600), noise=True, quality=100, subsampling=0)
    assert len(big) > 9 * MiB
    problems = check("instagram", "feed", media=[item("big.jpg")], probes=[probe(big)])
    assert problems == [
        f"Instagram images are limited to 8 MiB; item 1 (big.jpg) is {len(big) / MiB:.1f} MiB."
    ]
    assert check("instagram", "feed", media=[item()], probes=[jpeg(size=8 * MiB)]) == []


def test_three_to_one_image_for_instagram(make_image):
    wide = probe(make_image("JPEG", (1500, 500)))
    assert check("instagram", "feed", media=[item("pano.jpg")], probes=[wide]) == [
        "Instagram feed images must have an aspect ratio between 4:5 (0.8) and 1.91:1; "
        "item 1 (pano.jpg) is 1500x500 (3.00:1). Crop it, or post it as a story."
    ]


@pytest.mark.parametrize(("size", "ok"), [((1080, 1350), True), ((1080, 566), True),
                                          ((1080, 1080), True), ((1000, 1270), False),
                                          ((1080, 560), False)])
def test_instagram_aspect_ratio_bounds(size, ok):
    problems = check("instagram", "carousel", media=[item(), item("b.jpg")],
                     probes=[jpeg(*size), jpeg()])
    assert (problems == []) is ok


def test_instagram_image_width_is_not_refused():
    assert check("instagram", "feed", media=[item()], probes=[jpeg(4000, 4000)]) == []
    assert check("instagram", "feed", media=[item()], probes=[jpeg(200, 200)]) == []


@pytest.mark.parametrize(
    ("post_type", "info", "expected"),
    [
        ("reel", mp4(seconds=16 * 60), "Instagram videos must last 3 seconds to 15 minutes; "
         "item 1 (v.mp4) lasts 16 minutes."),
        ("reel", mp4(seconds=2), "Instagram videos must last 3 seconds to 15 minutes; "
         "item 1 (v.mp4) lasts 2 seconds."),
        ("story", mp4(seconds=61), "Instagram story videos must last 3 seconds to 60 seconds; "
         "item 1 (v.mp4) lasts 61 seconds."),
        ("story", mp4(size=150 * MB), "Instagram story videos are limited to 100.0 MB; "
         "item 1 (v.mp4) is 150.0 MB."),
        ("reel", mp4(size=310 * MB), "Instagram videos are limited to 300.0 MB; "
         "item 1 (v.mp4) is 310.0 MB."),
        ("reel", mp4(width=3840, height=2160), "Instagram videos may be at most 1920 pixels "
         "wide; item 1 (v.mp4) is 3840x2160. Export it at 1080p."),
        ("reel", mp4(faststart=False), "Instagram needs a video's index (moov atom) at the "
         "start of the file; re-export item 1 (v.mp4) with \"fast start\" "
         "(ffmpeg -movflags +faststart)."),
        ("reel", mp4(mime="video/3gpp"), "Instagram accepts MP4 and MOV videos; item 1 (v.mp4) "
         "is 3GP."),
    ],
)
def test_instagram_video_rules(post_type, info, expected):
    assert check("instagram", post_type, media=[item("v.mp4", "video")], probes=[info]) == [
        expected
    ]


def test_declared_type_must_match_content():
    assert check("instagram", "feed", media=[item("v.mp4", "image")], probes=[mp4()]) == [
        "Media item 1 (v.mp4) is marked as an image but its content is a video."
    ]


def test_unknown_content_skips_content_checks():
    assert check("instagram", "feed", media=[MediaItem(url="https://x/y.jpg", type="image")],
                 probes=None) == []


def test_probes_must_match_media():
    with pytest.raises(ValueError, match="1 media items but 2 probes"):
        validate_post("instagram", "feed", "", [item()], probes=[jpeg(), jpeg()])


# --- Facebook --------------------------------------------------------------------------


def test_facebook_feed_shapes():
    assert check("facebook", "feed") == []
    assert check("facebook", "feed", "", options={"link": "https://news.example/a"}) == []
    media, probes = images(10)
    assert check("facebook", "feed", media=media, probes=probes) == []
    assert check("facebook", "feed", media=[item("v.mp4", "video")], probes=[mp4()]) == []


def test_facebook_feed_problems():
    assert check("facebook", "feed", "  ") == [
        "A Facebook post needs a message, a link, photos or a video."
    ]
    media, probes = images(11)
    assert check("facebook", "feed", media=media, probes=probes) == [
        "A Facebook post needs at most 10 photos; this one has 11."
    ]
    videos = [item("a.mp4", "video"), item("b.mp4", "video")]
    assert check("facebook", "feed", media=videos, probes=[mp4(), mp4()]) == [
        "A Facebook post needs at most one video; this one has 2."
    ]
    assert check("facebook", "feed", media=[item(), item("v.mp4", "video")],
                 probes=[jpeg(), mp4()]) == [
        "A Facebook post can have photos or one video, not both."
    ]
    [problem] = check("facebook", "feed", media=[item()], probes=[jpeg()],
                      options={"link": "https://news.example/a"})
    assert "link preview or media, not both" in problem


def test_facebook_caption_limit():
    assert check("facebook", "text", "x" * 63_206) == []
    assert check("facebook", "text", "x" * 63_207) == [
        "Facebook post messages are limited to 63,206 characters; this one has 63,207."
    ]


def test_facebook_photo_size():
    assert check("facebook", "feed", media=[item()], probes=[jpeg(size=3_900_000)]) == []
    assert check("facebook", "feed", media=[item()], probes=[jpeg(size=4_500_000)]) == [
        "Facebook photos are limited to 4 MB; item 1 (a.jpg) is 4.5 MB."
    ]


def test_facebook_article_needs_a_link():
    assert check("facebook", "article") == ["Facebook article posts need a link (options.link)."]
    assert check("facebook", "article", options={"link": "https://blog.example/p"}) == []
    assert check("facebook", "article", options={"link": "ftp://blog.example/p"}) == [
        "The link 'ftp://blog.example/p' must be a full web address starting with https://."
    ]


def test_facebook_video_post():
    assert check("facebook", "video", media=[item("v.mov", "video")], probes=[mp4()]) == []
    assert check("facebook", "video", media=[item()], probes=[jpeg()]) == [
        "A Facebook video post can only contain videos; item 1 (a.jpg) is an image."
    ]


def test_facebook_refuses_feed_stories_and_says_what_to_do():
    [problem] = check("facebook", "feed_story", media=[item()], probes=[jpeg()])
    assert problem.startswith("Facebook cannot publish 'feed_story' posts here;")
    assert "schedule a feed post and a story" in problem


def test_facebook_reels_are_vertical_videos_of_3_to_90_seconds():
    reel = [item("r.mp4", "video")]
    assert check("facebook", "reel", media=reel, probes=[mp4(seconds=90)]) == []
    assert check("facebook", "reel", media=reel, probes=[mp4(720, 1280, seconds=3)]) == []
    assert check("facebook", "reel", media=reel, probes=[mp4(seconds=2)]) == [
        "Facebook reels must last 3 seconds to 90 seconds; item 1 (r.mp4) lasts 2 seconds."]
    assert check("facebook", "reel", media=reel, probes=[mp4(1920, 1080)]) == [
        "Facebook reels must be vertical 9:16 (e.g. 1080x1920); item 1 (r.mp4) is 1920x1080 "
        "(16:9). Re-export or crop it to 9:16."]
    assert check("facebook", "reel", media=reel, probes=[mp4(1080, 1350)]) == [
        "Facebook reels must be vertical 9:16 (e.g. 1080x1920); item 1 (r.mp4) is 1080x1350 "
        "(4:5). Re-export or crop it to 9:16."]
    assert check("facebook", "reel", media=reel, probes=[mp4(360, 640)]) == [
        "Facebook reels must be at least 540x960 pixels; item 1 (r.mp4) is 360x640."]
    assert check("facebook", "reel", media=[item()], probes=[jpeg()]) == [
        "A Facebook reel can only contain videos; item 1 (a.jpg) is an image."]
    assert check("facebook", "reel") == ["A Facebook reel needs exactly one video; this one "
                                         "has none."]


def test_facebook_stories_are_one_photo_or_one_vertical_video_without_text():
    tall, clip = [item("s.jpg")], [item("s.mp4", "video")]
    assert check("facebook", "story", "", media=tall, probes=[jpeg(1080, 1920)]) == []
    assert check("facebook", "story", "", media=clip, probes=[mp4(seconds=60)]) == []
    assert check("facebook", "story", "", media=clip, probes=[mp4(seconds=61)]) == [
        "Facebook story videos must last 3 seconds to 60 seconds; item 1 (s.mp4) lasts "
        "61 seconds."]
    assert check("facebook", "story", "", media=tall,
                 probes=[jpeg(mime="image/webp")]) == [
        "Facebook story photos must be JPEG, PNG, GIF, TIFF or BMP; item 1 (s.jpg) is WebP."]
    [problem] = check("facebook", "story", "Hello", media=tall, probes=[jpeg()])
    assert problem.startswith("Facebook stories carry no text")
    assert check("facebook", "story", "", media=tall * 2, probes=[jpeg(), jpeg()]) == [
        "A Facebook story needs exactly one image or video; this one has 2."]


def test_carousel_maps_to_multi_image_posts_elsewhere():
    media, probes = images(10)
    assert check("facebook", "carousel", media=media, probes=probes) == []
    media, probes = images(20)
    assert check("linkedin", "carousel", media=media, probes=probes) == []
    assert check("facebook", "carousel", media=[item()], probes=[jpeg()]) == [
        "A Facebook carousel (a multi-photo post) needs 2 to 10 photos; this one has 1."
    ]
    media, probes = images(21)
    assert check("linkedin", "carousel", media=media, probes=probes) == [
        "A LinkedIn carousel (a multi-image post) needs 2 to 20 images; this one has 21."
    ]
    # An Instagram carousel may hold videos; the others' multi-image posts may not.
    mixed, mixed_probes = [item(), item("v.mp4", "video")], [jpeg(), mp4()]
    assert check("linkedin", "carousel", media=mixed, probes=mixed_probes) == [
        "A LinkedIn carousel (a multi-image post) can only contain images; item 2 (v.mp4) is "
        "a video."
    ]


def test_facebook_refuses_documents():
    assert check("facebook", "feed", media=[item("d.pdf", "document")], probes=[pdf()]) == [
        "A Facebook post can only contain images or videos; item 1 (d.pdf) is a document."
    ]


# --- LinkedIn --------------------------------------------------------------------------


def test_linkedin_caption_of_3001():
    assert check("linkedin", "text", "x" * 3000) == []
    assert check("linkedin", "text", "x" * 3001) == [
        "LinkedIn posts are limited to 3,000 characters; this one has 3,001."
    ]


@pytest.mark.parametrize("post_type", ["text", "feed"])
def test_linkedin_feed_shapes(post_type):
    assert check("linkedin", post_type) == []
    for n in (1, 2, 20):
        media, probes = images(n)
        assert check("linkedin", post_type, media=media, probes=probes) == []
    assert check("linkedin", post_type, media=[item("v.mp4", "video")], probes=[mp4()]) == []
    assert check("linkedin", post_type, media=[item("d.pdf", "document")], probes=[pdf()]) == []


def test_linkedin_feed_problems():
    assert check("linkedin", "text", "") == ["A LinkedIn post needs some text or media."]
    media, probes = images(21)
    assert check("linkedin", "feed", media=media, probes=probes) == [
        "A LinkedIn post needs at most 20 images; this one has 21."
    ]
    assert check("linkedin", "feed", media=[item(), item("v.mp4", "video")],
                 probes=[jpeg(), mp4()]) == [
        "A LinkedIn post can have images, one video or one document, not a mix."
    ]
    assert check("linkedin", "feed", media=[item("a.pdf", "document"), item("b.pdf", "document")],
                 probes=[pdf(), pdf()]) == [
        "A LinkedIn post needs at most one document; this one has 2."
    ]


def test_linkedin_article():
    assert check("linkedin", "article") == ["LinkedIn article posts need a link (options.link)."]
    link = {"link": "https://blog.example/p", "title": "A post"}
    assert check("linkedin", "article", options=link) == []
    assert check("linkedin", "article", options=link, media=[item()], probes=[jpeg()]) == []


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (mp4(mime="video/quicktime"), "LinkedIn accepts MP4 videos; item 1 (v.mp4) is MOV."),
        (mp4(size=600 * MB), "LinkedIn videos must be 75 KB to 500 MB; item 1 (v.mp4) is "
         "600.0 MB."),
        (mp4(size=50_000), "LinkedIn videos must be 75 KB to 500 MB; item 1 (v.mp4) is 50 KB."),
        (mp4(seconds=31 * 60), "LinkedIn videos must last 3 seconds to 30 minutes; item 1 "
         "(v.mp4) lasts 31 minutes."),
    ],
)
def test_linkedin_video_rules(info, expected):
    assert check("linkedin", "video", media=[item("v.mp4", "video")], probes=[info]) == [expected]


def test_linkedin_media_formats():
    assert check("linkedin", "feed", media=[item("w.webp")], probes=[jpeg(mime="image/webp")]) == [
        "LinkedIn accepts JPEG, PNG and GIF images; item 1 (w.webp) is WebP."
    ]
    assert check("linkedin", "feed", media=[item("d.pdf", "document")],
                 probes=[pdf(150 * MB)]) == [
        "LinkedIn documents are limited to 100 MB; item 1 (d.pdf) is 150.0 MB."
    ]


def test_linkedin_has_no_stories():
    [problem] = check("linkedin", "story", media=[item()], probes=[jpeg()])
    assert problem == "LinkedIn cannot publish 'story' posts here; LinkedIn has no stories."


# --- the rest --------------------------------------------------------------------------


def test_unknown_platform():
    from herald.platforms.registry import NAMES

    # Every platform, in the registry's reading order (a new platform adds its name).
    [problem] = check("myspace", "feed")
    assert problem.startswith("Herald cannot publish to 'myspace'; choose instagram, "
                              "instagram_login, facebook, linkedin")
    assert problem.endswith(f", {NAMES[-2]} or {NAMES[-1]}.")
    assert all(name in problem for name in NAMES)


def test_check_post_raises_with_every_problem():
    with pytest.raises(ValidationError) as caught:
        check_post("instagram", "carousel", "x" * 2201, [item()], probes=[jpeg(3000, 1000)])
    assert len(caught.value.problems) == 3


def test_stored_media_is_a_probe(tmp_path, make_image):
    stored = LocalMediaStore(tmp_path, "https://h").save(make_image("PNG", (1080, 1350)))
    media = [{"url": stored.url, "type": stored.type}]
    assert validate_post("instagram", "feed", "Hi", media, probes=[stored]) == []
