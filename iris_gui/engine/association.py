"""image2 associations (ASN JSON): products of one science exposure plus its backgrounds.

Format::

    {"asn_type": "image2", "asn_rule": ..., "asn_pool": ...,
     "products": [{"name": ..., "members": [{"expname": ..., "exptype": "science"|"background"}]}]}

Member paths are relative to the ASN file. As in JWST's level-2 spec a product's ``name`` is
optional: without one it is derived from the science member (``jw01_rateints.fits`` -> ``jw01``).
Member exptypes are case-insensitive; the upstream ``liger_iris_pipeline`` spellings ``SCI`` and
``SKY`` mean science and background. The other exptypes JWST documents for level-2 members
(``imprint``, ``sourcecat``, ``segmap``, ``direct_image``, ``selfcal``) are not used by image2:
such members are left out, as jwst's image2 does, with one warning for the file naming them.

Level-3 associations (what image3 and the other stage-3 pipelines take: many science exposures
combined into one product) are refused as such, naming the file: an ``asn_type`` ending in 3
(``image3``, ``spec3``, ``coron3``...), an ``asn_rule`` of jwst's level-3 rules (``Asn_Lv3...``,
and the older ``Asn_Image``-style names without ``Lv2``), or, when neither says level 2, a
product with several science members. A file that says level 2 but has such a product keeps it
as a problem of that product. A bare rate file is a one-product association with no
background. ``load_association(strict=False)`` keeps going
past problems and records them on the products, so an interactive tool can show them on the
item instead of refusing the whole file.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .files import atomic_write_text, check_regular_file

log = logging.getLogger(__name__)

EXPTYPES = ("science", "background")
#: other spellings of EXPTYPES (lower case): the upstream liger_iris_pipeline writes SCI and SKY
EXPTYPE_ALIASES = {"sci": "science", "sky": "background"}
#: member exptypes JWST documents for level-2 associations that image2 does not use (jwst's
#: Image2Pipeline ignores them too): such members are left out with a log line
IGNORED_EXPTYPES = ("imprint", "sourcecat", "segmap", "direct_image", "selfcal")
#: asn_type values that say "level 2 (image2)": jwst's, and the class names the upstream
#: liger_iris_pipeline wrote before it dropped its association classes (L1 = rate files)
LEVEL2_ASN_TYPES = ("image2", "image2_pipeline", "none", "l1association", "imagerl1association")
#: at most this many ignored members are named in the warning
_LISTED_MEMBERS = 6
#: suffixes of pipeline products that a product name drops (longest first)
KNOWN_SUFFIXES = ("rateints", "calints", "bsubints", "rate", "cal", "bsub", "i2d", "uncal")


@dataclass
class Member:
    path: str          # absolute path
    exptype: str       # science | background
    expname: str = ""  # as written in the ASN


@dataclass
class Product:
    name: str
    members: list[Member]
    #: problems found while loading (empty when the product can run)
    problems: list[str] = field(default_factory=list)
    asn_path: str | None = None

    @property
    def science(self) -> str:
        for member in self.members:
            if member.exptype == "science":
                return member.path
        raise InputError(f"product {self.name}: no science member")

    @property
    def backgrounds(self) -> list[str]:
        return [m.path for m in self.members if m.exptype == "background"]

    @property
    def input_paths(self) -> list[str]:
        return [m.path for m in self.members]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Association:
    products: list[Product]
    path: str | None = None
    asn_type: str = "image2"
    asn_rule: str = "Asn_Lv2Image"
    asn_pool: str = "none"

    @property
    def problems(self) -> list[str]:
        return [f"{p.name}: {problem}" for p in self.products for problem in p.problems]


def product_name_for(path: str | os.PathLike) -> str:
    """Product name of a bare exposure file: its stem without the last pipeline suffix
    (``jw01_rate.fits`` -> ``jw01``)."""
    stem = Path(path).name
    for ext in (".fits.gz", ".fits", ".fit", ".fts"):
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
            break
    match = re.match(rf"^(.*)_({'|'.join(KNOWN_SUFFIXES)})$", stem)
    return match.group(1) if match and match.group(1) else stem


def association_from_exposure(path: str | os.PathLike) -> Association:
    """Wrap one rate/rateints file as a one-product association with no background."""
    path = os.path.abspath(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: file not found")
    product = Product(product_name_for(path), [Member(path, "science", Path(path).name)])
    return Association([product], path=None, asn_pool="none")


def load_association(path: str | os.PathLike, *, strict: bool = True) -> Association:
    """Read and validate an image2 ASN. With ``strict`` any problem raises InputError naming the
    file; otherwise products carry their problems and only an unreadable file raises."""
    path = os.path.abspath(path)
    check_regular_file(path, "association file")
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError:
        raise InputError(f"{path}: association file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a JSON association ({exc})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    if not isinstance(document, dict):
        raise InputError(f"{path}: an association must be a JSON object")
    products_raw = document.get("products")
    if not isinstance(products_raw, list) or not products_raw:
        raise InputError(f"{path}: association has no products")
    asn_type = str(document.get("asn_type", "image2"))
    level3 = level3_reason(document)
    if level3 is not None:
        raise InputError(f"{path}: this is a level-3 association ({level3}); iris_gui runs "
                         f"image2 (level 2), which calibrates one science exposure per product")
    if asn_type.lower() not in LEVEL2_ASN_TYPES:
        log.warning("%s: asn_type is %r, not image2; reading it as image2", path, asn_type)

    base = Path(path).parent
    products = []
    seen_names: set[str] = set()
    ignored: list[tuple[str, str]] = []  # (exptype, expname) left out
    for index, raw in enumerate(products_raw):
        where = f"{path}: products[{index}]"
        if not isinstance(raw, dict):
            raise InputError(f"{where}: must be an object with name and members")
        name = str(raw.get("name") or "").strip()
        problems: list[str] = []
        members: list[Member] = []
        members_raw = raw.get("members")
        if not isinstance(members_raw, list) or not members_raw:
            problems.append("has no members")
            members_raw = []
        for m_index, member in enumerate(members_raw):
            if not isinstance(member, dict) or "expname" not in member:
                problems.append(f"members[{m_index}] has no expname")
                continue
            expname = str(member["expname"])
            exptype = _exptype(member)
            if exptype in IGNORED_EXPTYPES:
                ignored.append((exptype, expname))
                continue
            if exptype not in EXPTYPES:
                problems.append(f"member {expname}: unknown exptype {member.get('exptype')!r} "
                                f"(expected science or background, or one of "
                                f"{', '.join(IGNORED_EXPTYPES)}, which are ignored)")
                continue
            member_path = Path(expname)
            resolved = os.path.normpath(
                member_path if member_path.is_absolute() else base / member_path)
            if member_path.is_absolute():
                log.warning("%s: member %s is an absolute path", path, expname)
            elif os.path.relpath(resolved, base).startswith(".."):
                log.warning("%s: member %s points outside the association's folder", path, expname)
            if not os.path.exists(resolved):
                problems.append(f"member {expname} not found ({resolved})")
            members.append(Member(resolved, exptype, expname))
        science = [m for m in members if m.exptype == "science"]
        if members and len(science) != 1:
            problems.append(f"has {len(science)} science members; exactly one is needed" + (
                " (several science exposures in one product make a level-3 association)"
                if science else ""))
        if not name:
            if len(science) == 1:  # as jwst does: the science exposure's name, suffix dropped
                name = product_name_for(science[0].path)
                log.info("%s: no name; named %s after its science member", where, name)
            else:
                name = f"product{index + 1}"
                problems.insert(0, "has no name (and no single science member to name it after)")
        if name in seen_names:
            problems.append(f"name {name!r} is used by another product (outputs would collide)")
        seen_names.add(name)
        product = Product(name, members, problems, asn_path=path)
        if strict and problems:
            raise InputError(f"{where} ({name}): {problems[0]}")
        products.append(product)
    if ignored:
        _warn_ignored(path, ignored)
    return Association(
        products,
        path=path,
        asn_type=asn_type,
        asn_rule=str(document.get("asn_rule", "Asn_Lv2Image")),
        asn_pool=str(document.get("asn_pool", "none")),
    )


def _exptype(member: dict) -> str:
    """A member's exptype in lower case, the upstream's spellings read as ours."""
    exptype = str(member.get("exptype", "")).strip().lower()
    return EXPTYPE_ALIASES.get(exptype, exptype)


def level3_reason(document: dict) -> str | None:
    """Why ``document`` (a parsed ASN) is a level-3 association, or None when it is not one.

    jwst's conventions: level-3 asn_types end in 3 (image3, spec3, coron3, ami3, tso3,
    wfs-image3); its level-2 rules are all named ``Asn_Lv2...``, its level-3 ones ``Asn_Lv3...``
    (older releases: ``Asn_Image``, ``discover_Asn_Image``...); a level-2 product holds exactly
    one science exposure. The asn_type decides first, then the rule, then the products."""
    asn_type = str(document.get("asn_type", "") or "").strip()
    if re.search(r"3$", asn_type):
        return f"asn_type {asn_type}"
    if asn_type.lower() in LEVEL2_ASN_TYPES:
        return None
    rule = str(document.get("asn_rule", "") or "").strip()
    if re.search(r"(^|_)asn_(?!lv2)", rule.lower()):
        return f"asn_rule {rule}"
    for index, product in enumerate(document.get("products") or []):
        if not isinstance(product, dict) or not isinstance(product.get("members"), list):
            continue
        science = [m for m in product["members"]
                   if isinstance(m, dict) and _exptype(m) == "science"]
        if len(science) > 1:
            name = str(product.get("name") or f"products[{index}]")
            return f"product {name} has {len(science)} science members"
    return None


def _warn_ignored(path: str, ignored: list[tuple[str, str]]) -> None:
    """One warning for every member left out for its exptype."""
    kinds = ", ".join(sorted({exptype for exptype, _ in ignored}))
    shown = ", ".join(name for _, name in ignored[:_LISTED_MEMBERS])
    if len(ignored) > _LISTED_MEMBERS:
        shown += f" and {len(ignored) - _LISTED_MEMBERS} more"
    log.warning("%s: %d member(s) of exptype %s left out (image2 does not use them): %s",
                path, len(ignored), kinds, shown)


def load_inputs(path: str | os.PathLike, *, strict: bool = True) -> Association:
    """An ASN (.json) or a bare exposure (.fits): what the CLI and GUI accept."""
    text = str(path)
    if text.lower().endswith(".json"):
        return load_association(text, strict=strict)
    return association_from_exposure(text)


def association_to_json(association: Association, relative_to: str | os.PathLike, *,
                        absolute: bool = False) -> str:
    """The ASN text; member names relative to ``relative_to`` (the ASN's folder, as image2
    associations are written), or absolute paths if asked. A member outside that folder is
    written as an absolute path (reading warns about names that leave the folder)."""
    base = Path(relative_to).resolve()
    products = []
    for product in association.products:
        members = []
        for member in product.members:
            expname = member.path
            if not absolute:
                try:
                    expname = os.path.relpath(member.path, base)
                except ValueError:  # another drive: only an absolute path can name it
                    expname = member.path
                if expname.startswith(".."):
                    expname = member.path
            members.append({"expname": expname, "exptype": member.exptype})
        products.append({"name": product.name, "members": members})
    document = {
        "asn_type": association.asn_type,
        "asn_rule": association.asn_rule,
        "asn_pool": association.asn_pool,
        "products": products,
    }
    return json.dumps(document, indent=2) + "\n"


def save_association(association: Association, path: str | os.PathLike, *,
                     absolute: bool = False) -> Path:
    """Write the association as JSON with member paths relative to its folder (or absolute),
    atomically, never onto one of its members."""
    path = Path(path)
    text = association_to_json(association, path.parent if str(path.parent) else ".",
                                absolute=absolute)
    members = [m.path for p in association.products for m in p.members]
    return atomic_write_text(path, text, protected=members)


def build_association(
    science: list[str | os.PathLike],
    backgrounds: list[str | os.PathLike] = (),
    *,
    names: list[str] | None = None,
    pool: str = "iris_gui",
) -> Association:
    """One product per science file, each sharing all the given backgrounds."""
    if not science:
        raise InputError("an association needs at least one science exposure")
    products = []
    for index, sci in enumerate(science):
        sci = os.path.abspath(sci)
        name = names[index] if names else product_name_for(sci)
        members = [Member(sci, "science", Path(sci).name)]
        members += [Member(os.path.abspath(b), "background", Path(b).name) for b in backgrounds]
        products.append(Product(name, members))
    return Association(products, asn_pool=pool)
