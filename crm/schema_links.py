"""OpenAPI links between the API's operations: which response hands which key to which request.

A client (and schemathesis' stateful phase, `make fuzz`) follows them from a create to what
the created object allows: read it, change it with its ETag in If-Match, take its steps,
delete it, and create what hangs off it (a customer's orders, contact logs and visits; a
group's members and messages). drf-spectacular has no decorator for links, so this
postprocessing hook adds them by operationId; it lives in the project shell because links
cross apps (a customer's number opens an order).
"""

from typing import Any

# Runtime expressions (OpenAPI 3.1 §4.8.20.4)
_NUMBER = "$response.body#/number"
_ID = "$response.body#/id"
_ETAG = "$response.header.ETag"
_FIRST_NUMBER = "$response.body#/results/0/number"
_FIRST_ID = "$response.body#/results/0/id"

TICKET_STEPS = (
    "accept",
    "dispatch",
    "start",
    "resolve",
    "return_visit",
    "archive",
    "reopen",
    "send_back",
    "transfer",
    "reassign",
    "urge",
)
OUTAGE_STEPS = ("publish", "start", "estimate", "restore", "cancel")

_CREATE = ("201", "200")  # a create answers 200 with what an earlier request (same key) made


def _link(
    operation_id: str,
    description: str,
    parameters: dict[str, str] | None = None,
    body: dict[str, str] | None = None,
) -> dict:
    """A link to `operation_id`; parameter names carry their location (`path.number`, `header.If-Match`)."""
    link: dict[str, Any] = {"operationId": operation_id, "description": description}
    if parameters:
        link["parameters"] = parameters
    if body:
        link["requestBody"] = body
    return link


def _customer_links(number: str, etag: str | None) -> dict[str, dict]:
    guarded = {"header.If-Match": etag} if etag else {}
    return {
        "GetCustomer": _link("customers_retrieve", "The customer.", {"path.number": number}),
        "UpdateCustomer": _link(
            "customers_update", "Replace the customer.", {"path.number": number, **guarded}
        ),
        "PatchCustomer": _link(
            "customers_partial_update", "Change the customer.", {"path.number": number, **guarded}
        ),
        "DeleteCustomer": _link(
            "customers_destroy", "Delete the customer.", {"path.number": number, **guarded}
        ),
        "OpenTicket": _link(
            "tickets_create", "Open a work order for the customer.", body={"customer": number}
        ),
        "LogInteraction": _link(
            "interactions_create", "Log a contact with the customer.", body={"customer": number}
        ),
        "PlanVisit": _link("visits_create", "Plan a visit to the customer.", body={"customer": number}),
        "ListInteractions": _link(
            "interactions_list", "The customer's contact log.", {"query.customer": number}
        ),
    }


def _ticket_links(number: str, etag: str | None) -> dict[str, dict]:
    guarded = {"header.If-Match": etag} if etag else {}
    links = {
        "GetTicket": _link("tickets_retrieve", "The work order.", {"path.number": number}),
        "PatchTicket": _link(
            "tickets_partial_update", "Change the work order.", {"path.number": number, **guarded}
        ),
        "LogInteraction": _link(
            "interactions_create", "Log a contact about the work order.", body={"ticket_number": number}
        ),
    }
    for step in TICKET_STEPS:
        name = "".join(part.title() for part in step.split("_"))
        links[f"Ticket{name}"] = _link(
            f"tickets_{step}_create", f"The work order's step {step}.", {"path.number": number, **guarded}
        )
    return links


def _outage_links(outage_id: str, etag: str | None) -> dict[str, dict]:
    guarded = {"header.If-Match": etag} if etag else {}
    links = {"GetOutage": _link("outages_retrieve", "The outage.", {"path.id": outage_id})}
    for step in OUTAGE_STEPS:
        links[f"Outage{step.title()}"] = _link(
            f"outages_{step}_create", f"The outage's step {step}.", {"path.id": outage_id, **guarded}
        )
    return links


def _group_links(group_id: str) -> dict[str, dict]:
    return {
        "GetGroup": _link("groups_retrieve", "The group.", {"path.id": group_id}),
        "UpdateGroup": _link("groups_update", "Replace the group.", {"path.id": group_id}),
        "PatchGroup": _link("groups_partial_update", "Change the group.", {"path.id": group_id}),
        "ListMembers": _link("groups_members_list", "The group's members.", {"path.group_pk": group_id}),
        "AddMember": _link("groups_members_create", "Add a member.", {"path.group_pk": group_id}),
        "ListMessages": _link("groups_messages_list", "The group's messages.", {"path.group_pk": group_id}),
        "IngestMessages": _link("groups_messages_ingest", "Record messages.", {"path.group_pk": group_id}),
    }


def _member_links(member_id: str) -> dict[str, dict]:
    group = "$request.path.group_pk"
    return {
        "RemoveMember": _link(
            "groups_members_destroy", "Remove the member.", {"path.group_pk": group, "path.id": member_id}
        ),
        "MemberLeaves": _link(
            "groups_members_leave_create",
            "The member leaves.",
            {"path.group_pk": group, "path.id": member_id},
        ),
        "ListMembers": _link("groups_members_list", "The group's members.", {"path.group_pk": group}),
    }


def links_by_operation() -> dict[str, dict[str, dict[str, dict]]]:
    """operationId -> status code -> the links of that response."""
    table: dict[str, dict[str, dict[str, dict]]] = {}

    def add(operation_id: str, codes: tuple[str, ...], links: dict[str, dict]) -> None:
        for code in codes:
            table.setdefault(operation_id, {}).setdefault(code, {}).update(links)

    add("customers_create", _CREATE, _customer_links(_NUMBER, _ETAG))
    for operation_id in ("customers_retrieve", "customers_update", "customers_partial_update"):
        add(operation_id, ("200",), _customer_links(_NUMBER, _ETAG))
    add("customers_list", ("200",), _customer_links(_FIRST_NUMBER, None))

    add("tickets_create", _CREATE, _ticket_links(_NUMBER, _ETAG))
    for operation_id in (
        "tickets_retrieve",
        "tickets_partial_update",
        *(f"tickets_{s}_create" for s in TICKET_STEPS),
    ):
        add(operation_id, ("200",), _ticket_links(_NUMBER, _ETAG))
    add("tickets_list", ("200",), _ticket_links(_FIRST_NUMBER, None))

    add("outages_create", _CREATE, _outage_links(_ID, _ETAG))
    for operation_id in ("outages_retrieve", *(f"outages_{s}_create" for s in OUTAGE_STEPS)):
        add(operation_id, ("200",), _outage_links(_ID, _ETAG))
    add("outages_list", ("200",), _outage_links(_FIRST_ID, None))

    add("groups_create", ("201",), _group_links(_ID))
    for operation_id in ("groups_retrieve", "groups_update", "groups_partial_update"):
        add(operation_id, ("200",), _group_links(_ID))
    add("groups_list", ("200",), _group_links(_FIRST_ID))
    add("groups_members_create", _CREATE, _member_links(_ID))
    add("groups_members_list", ("200",), _member_links(_FIRST_ID))
    add(
        "groups_messages_ingest",
        ("200",),
        {
            "ListMessages": _link(
                "groups_messages_list", "The group's messages.", {"path.group_pk": "$request.path.group_pk"}
            )
        },
    )

    add("visits_create", ("201",), {"GetVisit": _link("visits_retrieve", "The visit.", {"path.id": _ID})})
    add("visits_list", ("200",), {"GetVisit": _link("visits_retrieve", "The visit.", {"path.id": _FIRST_ID})})
    return table


def add_links(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """Put each response's links in the schema; a link to an operation the schema lacks is left out."""
    operation_ids = {
        operation.get("operationId")
        for operations in result.get("paths", {}).values()
        for operation in operations.values()
        if isinstance(operation, dict)
    }
    table = links_by_operation()
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for code, links in table.get(operation.get("operationId"), {}).items():
                response = operation.get("responses", {}).get(code)
                kept = {name: link for name, link in links.items() if link["operationId"] in operation_ids}
                if response is not None and kept:
                    response.setdefault("links", {}).update(kept)
    return result
