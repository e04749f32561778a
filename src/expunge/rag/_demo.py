"""A synthetic corpus: support tickets and HR notes about made-up people (Faker, seeded), with canaries.

No real personal data: every name, address and number comes from Faker. Each person gets a canary string
planted in one of their documents, so a probe can tell whether anything of them survived deletion.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from expunge.errors import RagError
from expunge.rag._ingest import Document, Person

__all__ = ["DemoCorpus", "demo_corpus"]

_PRODUCTS = ["router", "invoice portal", "mobile app", "smart thermostat", "payroll export", "VPN client"]
_PROBLEMS = [
    "cannot log in since the last update",
    "was charged twice this month",
    "sees a blank screen after the splash page",
    "lost every saved setting after a restart",
    "gets a timeout when exporting the yearly report",
    "keeps receiving duplicate notification e-mails",
]
_HR_TOPICS = [
    "asked for parental leave starting next quarter",
    "raised concerns about workload on the night shift",
    "requested a transfer to the Lisbon office",
    "completed the security awareness training late",
    "asked to adjust working hours for medical appointments",
    "received a commendation for leading the migration project",
]


@dataclass(frozen=True)
class DemoCorpus:
    """The documents, the people they mention, and each person's canary string (same order as ``people``)."""

    documents: list[Document]
    people: list[Person]
    canaries: list[str]


def demo_corpus(n_documents: int, *, n_people: int | None = None, seed: int = 0, tenant: str = "default") -> DemoCorpus:
    """Generate ``n_documents`` tickets and HR notes about ``n_people`` made-up people (default: a third).

    Support tickets are readable by ``support``, HR notes by ``hr`` only; every person has at least one
    document when ``n_documents >= n_people``.
    """
    from faker import Faker

    if not isinstance(n_documents, int) or n_documents < 1:
        raise RagError(f"The demo corpus needs at least 1 document. Got {n_documents!r}.")
    n_people = n_people or max(1, n_documents // 3)
    if n_people < 1:
        raise RagError(f"The demo corpus needs at least 1 person. Got {n_people!r}.")
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    people, seen = [], set()
    while len(people) < n_people:
        name = fake.name()
        if name in seen:
            continue
        seen.add(name)
        user = name.lower().replace(" ", ".").replace("'", "")
        people.append(
            Person(
                name=name,
                email=f"{user}{rng.randint(1, 99)}@{fake.free_email_domain()}",
                phone=fake.numerify("+1 ###-###-####"),
            )
        )
    canaries = [f"canary-{rng.getrandbits(40):010x}" for _ in people]
    documents = []
    for i in range(n_documents):
        who = i if i < n_people else rng.randrange(n_people)
        person = people[who]
        canary = f" Reference code {canaries[who]}." if i == who else ""
        if rng.random() < 0.6:
            text = (
                f"Support ticket #{10000 + i}. {person.name} ({person.email}, phone {person.phone}) reports that "
                f"the {rng.choice(_PRODUCTS)} {rng.choice(_PROBLEMS)}. The customer lives at "
                f"{fake.street_address()}, {fake.city()}. Agent {fake.first_name()} suggested a reinstall and "
                f"escalated the case to tier two.{canary} Follow-up promised within {rng.randint(1, 5)} days."
            )
            acl = "support"
        else:
            text = (
                f"HR note {i}. Employee {person.name} (employee e-mail {person.email}) {rng.choice(_HR_TOPICS)}. "
                f"Manager {fake.name()} discussed it on {fake.date_this_year().isoformat()} and agreed to revisit "
                f"in {rng.randint(2, 8)} weeks. Date of birth on file: {fake.date_of_birth().isoformat()}.{canary}"
            )
            acl = "hr"
        documents.append(Document(text=text, source=f"demo://{tenant}/{acl}/{i:05d}", tenant=tenant, acl=acl))
    return DemoCorpus(documents, people, canaries)
