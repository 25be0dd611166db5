"""Open311 GeoReport v2 as Whistle speaks it (pure): services, requests and errors in JSON and XML.

The spec (``wiki.open311.org/GeoReport_v2``) fixes the names; Whistle adds what a Chinese
hotline needs, as the spec allows, through a service's attributes:

- ``attribute[channel_request_id]``: the channel's own id of the complaint (its 工单编号). It
  becomes the ``service_request_id``: the same request sent twice is one complaint.
- ``attribute[crs]``: the coordinate system of ``lat``/``long``, ``wgs84`` (the default),
  ``gcj02`` (most Chinese map apps) or ``bd09`` (Baidu); converted on ingest, the original kept.
- ``attribute[received_at]``: when the channel took the complaint, if not now.
- ``attribute[accuracy]``: how far the point may lie from the problem, in metres (a phone's GPS
  accuracy); a point is a border case only when its accuracy reaches the line.

Status updates follow FixMyStreet's ``servicerequestupdates`` extension, with
``external_status_code`` saying what happened (:data:`geo.ingest.updates.KINDS`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from xml.etree import ElementTree as ET

import pandas as pd

from geo.act.categories import Category

FORMATS = ("json", "xml")
ATTRIBUTES = {
    "channel_request_id": ("string", "The channel's own id of the complaint (工单编号); sending it makes a "
                                     "repeated request one complaint", False),
    "crs": ("singlevaluelist", "The coordinate system of lat/long: wgs84, gcj02 or bd09", False),
    "received_at": ("datetime", "When the channel took the complaint (ISO 8601), if not now", False),
    "accuracy": ("number", "How far lat/long may lie from the problem, in metres (the phone's GPS accuracy); "
                           "without it the platform's default for the coordinate system", False),
}
CRS_VALUES = (("wgs84", "WGS84 (GPS)"), ("gcj02", "GCJ-02 (高德, 腾讯)"), ("bd09", "BD-09 (百度)"))
MAX_TEXT = 4000
"""The longest description, address or name a request may carry."""
DEFAULT_DAYS = 90
DEFAULT_LIMIT = 1000


class RequestError(ValueError):
    """A request that cannot be served: the HTTP code and the spec's ``[{code, description}]``."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description

    def body(self) -> list[dict]:
        """The spec's error body."""
        return [{"code": self.status, "description": self.description}]


def service(category: Category) -> dict:
    """A category as an Open311 service: ``service_code`` is its code, ``group`` its theme."""
    return {"service_code": category.code, "service_name": category.name_zh,
            "service_name_en": category.name_en, "description": f"{category.name_zh} ({category.name_en})",
            "metadata": True, "type": "realtime", "keywords": ",".join([category.name_zh, category.name_en]),
            "group": category.theme}


def definition(category: Category) -> dict:
    """A service's definition: the attributes it takes (:data:`ATTRIBUTES`)."""
    attributes = []
    for order, (code, (kind, description, required)) in enumerate(ATTRIBUTES.items(), start=1):
        attribute = {"variable": True, "code": code, "datatype": kind, "required": required,
                     "datatype_description": description, "order": order, "description": description}
        if kind == "singlevaluelist":
            attribute["values"] = [{"key": key, "name": name} for key, name in CRS_VALUES]
        attributes.append(attribute)
    return {"service_code": category.code, "attributes": attributes}


def request_fields(form: Mapping[str, str | None], *, channel: str | None, now: datetime, timezone: str) -> dict:
    """Turn a ``POST requests`` form into a complaint row (the fields of a file row).

    Parameters
    ----------
    form : mapping
        The posted fields, by their Open311 names.
    channel : str or None
        The posting key's channel.
    now : datetime
        The clock: the received time when the request does not give one.
    timezone : str
        The city's zone (a received time without a zone is read in it).

    Raises
    ------
    RequestError
        400 for a request the spec itself refuses (no service code, half a point, no location);
        the checks a file row also gets are left to ingest.
    """
    get = lambda name: _text(form.get(name))  # noqa: E731
    code = get("service_code")
    if code is None:
        raise RequestError(400, "service_code: missing; GET services.json lists the services")
    lat, lon, address = get("lat"), get("long"), get("address_string")
    if (lat is None) != (lon is None):
        raise RequestError(400, f"{'long' if lon is None else 'lat'}: missing; a point needs both lat and long")
    if lat is None and address is None:
        raise RequestError(400, "lat/long or address_string: missing; a request needs a location")
    for name in ("description", "address_string", "first_name", "last_name", "email"):
        value = get(name)
        if value is not None and len(value) > MAX_TEXT:
            raise RequestError(400, f"{name}: {len(value)} characters; at most {MAX_TEXT}")
    crs = get("attribute[crs]") or "wgs84"
    if crs.lower() not in {key for key, _ in CRS_VALUES}:
        raise RequestError(400, f"attribute[crs]: {crs[:40]!r} is not one of wgs84, gcj02, bd09")
    # The default is written in the city's zone in the exports' common form, which the checks
    # parse fastest (to the second, as the exports are).
    received = get("attribute[received_at]") or pd.Timestamp(now).tz_convert(timezone).strftime("%Y-%m-%d %H:%M:%S")
    return {"id": get("attribute[channel_request_id]"), "received_at": received, "channel": channel,
            "category": code, "text": get("description"), "address": address, "lon": lon, "lat": lat,
            "crs": crs.lower(), "phone": get("phone"), "accuracy": get("attribute[accuracy]")}


def _text(value) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def status_of(resolved, resolved_at) -> str:
    """``closed`` once the complaint has an outcome (resolved or not), else ``open``."""
    return "closed" if (resolved is not None and not _missing(resolved)) or not _missing(resolved_at) else "open"


def request_record(row: Mapping, names: Mapping[str, str], timezone: str) -> dict:
    """A stored complaint as an Open311 request (what ``GET requests`` returns); no phone, ever."""
    notes = []
    if not _missing(row.get("satisfaction")):
        notes.append(f"satisfaction: {row['satisfaction']}")
    if row.get("returned_count"):
        notes.append(f"returned {int(row['returned_count'])} times")
    updated = [row.get(c) for c in ("resolved_at", "responded_at", "dispatched_at", "received_at")]
    updated = max(pd.Timestamp(v) for v in updated if not _missing(v))
    return {
        "service_request_id": row["source_id"],
        "status": status_of(row.get("resolved"), row.get("resolved_at")),
        "status_notes": "; ".join(notes) or None,
        "service_name": names.get(row["category"], row["category"]),
        "service_code": row["category"],
        "description": row.get("text"),
        "agency_responsible": row.get("township_name"),
        "service_notice": None,
        "requested_datetime": iso(row["received_at"], timezone),
        "updated_datetime": iso(updated, timezone),
        "expected_datetime": None,
        "address": row.get("address"),
        "address_id": None,
        "zipcode": None,
        "lat": _number(row.get("lat")),
        "long": _number(row.get("lon")),
        "media_url": None,
    }


def update_record(row: Mapping, timezone: str) -> dict:
    """A status update as FixMyStreet's ``servicerequestupdates`` lists it."""
    return {"update_id": str(row["id"]), "service_request_id": row["source_id"], "status": row["status"],
            "updated_datetime": iso(row["updated_at"], timezone), "description": row.get("description") or "",
            "external_status_code": row["kind"], "media_url": ""}


def iso(moment, timezone: str) -> str | None:
    """ISO 8601 with the city's offset (``2026-11-01T08:30:00+08:00``)."""
    if _missing(moment):
        return None
    return pd.Timestamp(moment).tz_convert(timezone).isoformat(timespec="seconds")


def _number(value) -> float | None:
    return None if _missing(value) else round(float(value), 6)


def _missing(value) -> bool:
    # The row's values are scalars: None, NaN, NaT and pandas' NA are all missing.
    return value is None or bool(pd.isna(value))


def to_xml(root: str, item: str, items: Iterable[Mapping]) -> bytes:
    """The spec's XML: ``<root><item><field>value</field>...</item>...</root>``; lists nest."""
    top = ET.Element(root)
    for entry in items:
        _element(top, item, entry)
    return _document(top)


def to_xml_one(name: str, body: Mapping) -> bytes:
    """One object as the document's root (discovery, a service definition)."""
    holder = ET.Element("holder")
    _element(holder, name, body)
    return _document(holder[0])


def _document(root: ET.Element) -> bytes:
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8")


def _element(parent: ET.Element, name: str, value) -> None:
    node = ET.SubElement(parent, name)
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if isinstance(inner, list):
                holder = ET.SubElement(node, key)
                for member in inner:
                    _element(holder, key.rstrip("s") or key, member)
            else:
                _element(node, key, inner)
    elif value is None:
        return
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    else:
        # ElementTree escapes markup; a control character XML cannot hold becomes U+FFFD.
        node.text = "".join(c if c in "\t\n\r" or ord(c) >= 0x20 else "\ufffd" for c in str(value))


def call_record(row: Mapping, timezone: str) -> dict:
    """A whistle call as its addressee's system reads it (Whistle's extension of the API): the
    call, and the addressee's own state, deadline and lateness; times in ISO 8601 with the zone."""
    def moment(value):
        return None if _missing(value) else pd.Timestamp(value).tz_convert(timezone).isoformat()

    return {"call_id": int(row["id"]), "kind": row["kind"], "state": row["state"],
            "townships": list(row["townships"]), "categories": list(row["categories"]),
            "complaints": int(row["complaints"]), "raised_datetime": moment(row["raised_at"]),
            "deadline_datetime": moment(row["deadline_at"]), "level": int(row["escalation"]),
            "addressee_code": row.get("code"), "addressee_state": row.get("your_state"),
            "addressee_deadline_datetime": moment(row.get("your_deadline")),
            "addressee_late": bool(row.get("your_late")) if not _missing(row.get("your_late")) else False}
