"""Instagram's post options beyond the caption: collaborators, user tags, a location and
trial reels. Checked when a post is scheduled (`problems`, from rules.check) and put on
the media containers as the API wants them (`container_options`, `child_options`).

The API (IG User Media, POST /{ig-user-id}/media, both logins; docs/platforms/instagram.md):

* `collaborators`: up to 5 usernames, on feed images, carousels and reels, not stories;
* `user_tags`: [{username, x, y}] on images, x and y between 0 and 1 (the top-left corner
  is 0, 0); on reels usernames only; on a carousel the tags go on its image items;
* `location_id`: the id of a Facebook Page that is a place, on images, carousels, reels;
* `trial_params`: {"graduation_strategy": "MANUAL" | "SS_PERFORMANCE"} on reels: a trial
  reel is shown to non-followers first and joins the profile when graduated (MANUAL: by
  hand in the app; SS_PERFORMANCE: by Instagram if it does well).

Herald's options (the post's `options`) use the same names and shapes, and a user tag may
say which carousel item it goes on (`media`, 1-based, default 1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

COLLABORATORS_MAX = 5
#: ◐ Instagram's app allows 20 people tagged in one photo; the API documents no other figure.
USER_TAGS_MAX = 20
GRADUATION_STRATEGIES = ("MANUAL", "SS_PERFORMANCE")
#: Instagram usernames: up to 30 letters, digits, "_" and ".".
USERNAME = re.compile(r"[A-Za-z0-9_.]{1,30}")
_LOCATION = re.compile(r"\d{1,25}")

#: The option names this module owns, as the API docs and README list them.
NAMES = ("collaborators", "user_tags", "location_id", "trial_params")
#: The post types each option is for (a feed_story's feed part takes what a feed post takes;
#: its story part goes without them).
_TYPES: Mapping[str, tuple[str, ...]] = {
    "collaborators": ("feed", "carousel", "reel", "video", "feed_story"),
    "user_tags": ("feed", "carousel", "reel", "video", "feed_story"),
    "location_id": ("feed", "carousel", "reel", "video", "feed_story"),
    "trial_params": ("reel", "video"),
}
_WHAT = {"collaborators": "Collaborators", "user_tags": "User tags",
         "location_id": "A location", "trial_params": "Trial reel settings (trial_params)"}


def problems(post_type: str, media_types: Sequence[str], options: Mapping[str, Any]
             ) -> list[str]:
    """Every reason Instagram would refuse these options on this post, as sentences."""
    found: list[str] = []
    for name in NAMES:
        if options.get(name) is None:
            continue
        if post_type not in _TYPES[name]:
            where = ("reels" if name == "trial_params"
                     else "feed posts, carousels and reels")
            found.append(f"{_WHAT[name]} can be set on Instagram {where} only, not on "
                         f"{post_type} posts; leave out options.{name}.")
            continue
        found += _CHECKS[name](options[name], post_type, media_types)
    return found


def _collaborators(value: Any, post_type: str, media_types: Sequence[str]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return ['options.collaborators must be a list of Instagram usernames, e.g. '
                '["acme", "jane.doe"].']
    if len(value) > COLLABORATORS_MAX:
        return [f"Instagram takes at most {COLLABORATORS_MAX} collaborators on a post; "
                f"options.collaborators has {len(value)}."]
    return _usernames("options.collaborators", value)


def _usernames(where: str, names: Sequence[str]) -> list[str]:
    bad = [n for n in names if not USERNAME.fullmatch(n.removeprefix("@"))]
    if bad:
        return [f"{where}: {bad[0]!r} is not an Instagram username (up to 30 letters, "
                "digits, '_' and '.')."]
    lowered = [n.removeprefix("@").lower() for n in names]
    if len(set(lowered)) != len(lowered):
        return [f"{where} names someone twice; name each person once."]
    return []


def _user_tags(value: Any, post_type: str, media_types: Sequence[str]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        return ['options.user_tags must be a list like [{"username": "jane.doe", "x": 0.5, '
                '"y": 0.5}].']
    reel = post_type in ("reel", "video")
    found: list[str] = []
    per_item: dict[int, int] = {}
    for n, tag in enumerate(value, start=1):
        where = f"options.user_tags item {n}"
        username = tag.get("username")
        if not isinstance(username, str):
            found.append(f"{where} needs the tagged person's username.")
            continue
        found += _usernames(where, [username])
        if reel:
            if "x" in tag or "y" in tag:
                found.append(f"{where}: tags on a reel take no position; leave out x and y.")
        else:
            found += _position(where, tag)
        item = tag.get("media", 1)
        if post_type == "carousel":
            found += _carousel_item(where, item, media_types)
        elif "media" in tag and item != 1:
            found.append(f"{where}: media picks a carousel item; this post has one item.")
        key = item if isinstance(item, int) and not isinstance(item, bool) else 1
        per_item[key] = per_item.get(key, 0) + 1
    if any(count > USER_TAGS_MAX for count in per_item.values()):
        found.append(f"Instagram takes at most {USER_TAGS_MAX} people tagged on one image.")
    return found


def _position(where: str, tag: Mapping[str, Any]) -> list[str]:
    missing = [a for a in ("x", "y") if isinstance(tag.get(a), bool)
               or not isinstance(tag.get(a), int | float)]
    if missing:
        return [f"{where} needs {' and '.join(missing)}, where the tag sits on the image "
                "(0 is the left or top edge, 1 the right or bottom)."]
    return [f"{where}: {axis} must be between 0 and 1 (a fraction of the image's "
            f"{'width' if axis == 'x' else 'height'}); it is {tag[axis]:g}."
            for axis in ("x", "y") if not 0 <= tag[axis] <= 1]


def _carousel_item(where: str, item: Any, media_types: Sequence[str]) -> list[str]:
    if isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= len(media_types):
        return [f"{where}: media must be the number of a carousel item, 1 to "
                f"{len(media_types)}."]
    if media_types[item - 1] != "image":
        return [f"{where}: carousel item {item} is a video; Instagram tags people on "
                "images only."]
    return []


def _location(value: Any, post_type: str, media_types: Sequence[str]) -> list[str]:
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not _LOCATION.fullmatch(text):
        return ["options.location_id must be the numeric id of a Facebook Page that is a "
                "place (search one with GET /pages/search, or copy it from the Page)."]
    return []


def _trial(value: Any, post_type: str, media_types: Sequence[str]) -> list[str]:
    strategy = value.get("graduation_strategy") if isinstance(value, dict) else None
    if strategy not in GRADUATION_STRATEGIES or set(value) != {"graduation_strategy"}:
        return ['options.trial_params must be {"graduation_strategy": "MANUAL"} (you '
                'graduate the trial reel in the app) or {"graduation_strategy": '
                '"SS_PERFORMANCE"} (Instagram graduates it if it does well).']
    return []


_CHECKS = {"collaborators": _collaborators, "user_tags": _user_tags,
           "location_id": _location, "trial_params": _trial}


def part_options(post_type: str, options: dict[str, Any]) -> dict[str, Any]:
    """What one part of a split post keeps: a feed_story's story goes without these."""
    if post_type != "story":
        return options
    return {k: v for k, v in options.items() if k not in NAMES}


# --- what the containers carry -------------------------------------------------------------


def container_options(kind: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options a post's own container carries; `kind` is the container's (image,
    reels, carousel, stories). Stories carry none (a feed_story's story part)."""
    if kind == "stories":
        return {}
    body: dict[str, Any] = {}
    collaborators = options.get("collaborators")
    if collaborators:
        body["collaborators"] = [str(c).removeprefix("@") for c in collaborators]
    if options.get("location_id") is not None:
        body["location_id"] = str(options["location_id"])
    tags = options.get("user_tags")
    if tags and kind != "carousel":  # a carousel's tags go on its items
        body["user_tags"] = [_tag(t, positioned=kind == "image") for t in tags]
    trial = options.get("trial_params")
    if trial and kind == "reels":
        body["trial_params"] = {"graduation_strategy": trial["graduation_strategy"]}
    return body


def child_options(index: int, options: Mapping[str, Any]) -> dict[str, Any]:
    """The user tags of carousel item `index` (1-based)."""
    tags = [_tag(t, positioned=True) for t in options.get("user_tags") or ()
            if t.get("media", 1) == index]
    return {"user_tags": tags} if tags else {}


def _tag(tag: Mapping[str, Any], *, positioned: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"username": str(tag["username"]).removeprefix("@")}
    if positioned:
        out["x"], out["y"] = float(tag["x"]), float(tag["y"])
    return out
