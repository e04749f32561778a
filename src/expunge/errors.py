"""The error tree of expunge: one root, one base per area, stable codes.

Every error expunge raises on purpose derives from :class:`ExpungeError` and carries a stable
``code`` (``"<area>.<what>"``) that is written into audit records and API responses, so it must never
change once released. Where a builtin fits, the error also subclasses it, so ``except ValueError``
keeps working for callers who do not know expunge::

    ExpungeError
    ├── UnknownNameError (LookupError)             registry.unknown_name   every Unknown…Error below is one
    ├── DuplicateNameError (ValueError)            registry.duplicate_name
    ├── ConfigError (ValueError)                   config.*
    ├── DataError                                  data.*
    │   ├── DataUnavailableError (FileNotFoundError)
    │   ├── UnknownDatasetError (UnknownNameError)
    │   ├── InvalidForgetSetError (ValueError)
    │   └── ChecksumMismatchError
    ├── ModelError (ValueError)                    model.*
    │   └── UnknownArchitectureError (UnknownNameError)
    ├── MethodError                                unlearn.*
    │   ├── UnknownMethodError (UnknownNameError)
    │   └── InvalidParameterError (ValueError)
    ├── AuditError (ValueError)                    audit.*
    │   ├── UnknownAttackError (UnknownNameError)
    │   └── InsufficientDataError (ValueError)
    ├── CatalogError (ValueError)                  catalog.*
    │   ├── InvalidIdentifierError
    │   ├── UnknownAssetError (LookupError)
    │   └── TombstonedContentError
    │       └── SuppressedSubjectError
    ├── RequestError (ValueError)                  request.*
    │   ├── InvalidTransition
    │   ├── UnknownScopeError
    │   ├── UnknownRequestError (LookupError)
    │   ├── DuplicateRequestError                  details(): existing_id
    │   ├── InvalidTokenError
    │   │   └── TokenExpiredError
    │   └── UnknownRegulationError (LookupError)
    ├── BusError                                   bus.*
    │   ├── UnknownSubscriberError (UnknownNameError)
    │   ├── UnknownEventError (LookupError)
    │   ├── AlreadyProcessedError
    │   └── SubscriberFailedError
    ├── BackendError                               backend.*
    │   ├── UnknownBackendError (UnknownNameError)  a vector-store URL scheme nobody registered, too
    │   ├── InvalidDatabaseError (ValueError)
    │   └── DatabaseBusyError
    ├── RagError (ValueError)                      rag.*
    │   ├── EmptyDocumentError
    │   ├── InvalidFilterError
    │   └── DimensionMismatchError
    ├── EvidenceError                              evidence.*
    │   ├── TamperedEvidenceError
    │   │   └── EmptyLogError
    │   ├── UnknownKeyError (LookupError)
    │   ├── EvidenceInputError (ValueError)
    │   └── KeyMismatchError (ValueError)
    ├── AuthError (PermissionError)                auth.*
    │   └── ForbiddenError
    ├── InvalidPageError (ValueError)              page.invalid
    ├── PayloadTooLargeError (ValueError)          service.payload_too_large
    └── LMError                                    lm.*
        ├── UnsupportedPrecisionError (ValueError)
        ├── LMEvaluationError (ValueError)
        ├── NotCausalLMError (ValueError)          a path that holds no causal language model
        ├── ModelFilesMissingError (FileNotFoundError)
        ├── AdapterMismatchError (ValueError)      an adapter trained on other base weights
        ├── SamplesNotLearntError (ValueError)     a forget set naming samples an adapter never saw
        └── LMForgetError (ValueError)             a forget request a method cannot serve as given

HTTP statuses are mapped in ``expunge.service`` only and exit codes in ``expunge.cli`` only: an area
raises, it never decides how the failure is shown. What an error carries beyond its sentence (the open
request's ID of a duplicate) is in :meth:`ExpungeError.details`.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "AdapterMismatchError",
    "AlreadyProcessedError",
    "AuditError",
    "AuthError",
    "BackendError",
    "BusError",
    "CatalogError",
    "ChecksumMismatchError",
    "ConfigError",
    "DataError",
    "DataUnavailableError",
    "DatabaseBusyError",
    "DimensionMismatchError",
    "DuplicateNameError",
    "DuplicateRequestError",
    "EmptyDocumentError",
    "EmptyLogError",
    "EvidenceError",
    "EvidenceInputError",
    "ExpungeError",
    "ForbiddenError",
    "InsufficientDataError",
    "InvalidDatabaseError",
    "InvalidFilterError",
    "InvalidForgetSetError",
    "InvalidIdentifierError",
    "InvalidPageError",
    "InvalidParameterError",
    "InvalidTokenError",
    "InvalidTransition",
    "KeyMismatchError",
    "LMError",
    "LMEvaluationError",
    "LMForgetError",
    "MethodError",
    "ModelError",
    "ModelFilesMissingError",
    "NotCausalLMError",
    "PayloadTooLargeError",
    "RagError",
    "RequestError",
    "SamplesNotLearntError",
    "SubscriberFailedError",
    "SuppressedSubjectError",
    "TamperedEvidenceError",
    "TokenExpiredError",
    "TombstonedContentError",
    "UnknownArchitectureError",
    "UnknownAssetError",
    "UnknownAttackError",
    "UnknownBackendError",
    "UnknownDatasetError",
    "UnknownEventError",
    "UnknownKeyError",
    "UnknownMethodError",
    "UnknownNameError",
    "UnknownRegulationError",
    "UnknownRequestError",
    "UnknownScopeError",
    "UnknownSubscriberError",
    "UnsupportedPrecisionError",
    "unknown_name_message",
]


class ExpungeError(Exception):
    """Root of every error expunge raises on purpose."""

    code = "expunge.error"

    @property
    def message(self) -> str:
        """The human sentence, without the class name."""
        return str(self.args[0]) if self.args else ""

    def details(self) -> dict[str, str]:
        """Return what the error carries beyond its sentence, as extra fields of an API error body (none here)."""
        return {}


class UnknownNameError(ExpungeError, LookupError):
    """Nothing is registered under the requested name; the message lists every registered name."""

    code = "registry.unknown_name"


class DuplicateNameError(ExpungeError, ValueError):
    """A second entry was registered under a name already taken; registry names are unique and stable forever."""

    code = "registry.duplicate_name"


class ConfigError(ExpungeError, ValueError):
    """A setting or a configuration file is invalid."""

    code = "config.invalid"


class DataError(ExpungeError):
    """A data set, a sample ID or a forget set is wrong."""

    code = "data.invalid"


class DataUnavailableError(DataError, FileNotFoundError):
    """A data set's files are not installed on this machine; the message says how to get them."""

    code = "data.unavailable"


class UnknownDatasetError(DataError, UnknownNameError):
    """No data set is registered under the requested name."""

    code = "data.unknown_dataset"


class InvalidForgetSetError(DataError, ValueError):
    """A forget set is empty, names unknown IDs, overlaps the retain set or is malformed."""

    code = "data.invalid_forget_set"


class ChecksumMismatchError(DataError):
    """A data file does not have the sha256 it is documented to have."""

    code = "data.checksum_mismatch"


class ModelError(ExpungeError, ValueError):
    """A model, a checkpoint or a tensor shape does not fit what was asked."""

    code = "model.invalid"


class UnknownArchitectureError(ModelError, UnknownNameError):
    """No model architecture is registered under the requested name."""

    code = "model.unknown_architecture"


class MethodError(ExpungeError):
    """An unlearning method failed or was misconfigured."""

    code = "unlearn.error"


class UnknownMethodError(MethodError, UnknownNameError):
    """No unlearning method is registered under the requested name."""

    code = "unlearn.unknown_method"


class InvalidParameterError(MethodError, ValueError):
    """A method parameter is outside what the method accepts."""

    code = "unlearn.invalid_parameter"


class AuditError(ExpungeError, ValueError):
    """An audit could not be run as asked (a missing reference, incompatible models, a bad policy)."""

    code = "audit.error"


class UnknownAttackError(AuditError, UnknownNameError):
    """No membership-inference attack is registered under the requested name."""

    code = "audit.unknown_attack"


class InsufficientDataError(AuditError, ValueError):
    """Too few samples to measure what was asked (e.g. a TPR at a very low FPR)."""

    code = "audit.insufficient_data"


class CatalogError(ExpungeError, ValueError):
    """A record, an artifact, a lineage edge or a hold is malformed or conflicts with the catalog."""

    code = "catalog.invalid"


class InvalidIdentifierError(CatalogError):
    """A subject identifier is empty, oversize or not of its declared kind."""

    code = "catalog.invalid_identifier"


class UnknownAssetError(CatalogError, LookupError):
    """No record, artifact or hold with that ID exists for the caller's tenant."""

    code = "catalog.unknown_asset"


class TombstonedContentError(CatalogError):
    """Content erased by an earlier request was registered again; it must not come back."""

    code = "catalog.tombstoned"


class SuppressedSubjectError(TombstonedContentError):
    """Data about a person whose erasure was accepted was registered again; it must not come back."""

    code = "catalog.suppressed"


class RequestError(ExpungeError, ValueError):
    """A data-subject request is malformed or cannot proceed."""

    code = "request.invalid"


class InvalidTransition(RequestError):  # the name is the domain's word, not …Error
    """A request was asked to move between two states the transition table does not link."""

    code = "request.invalid_transition"


class UnknownScopeError(RequestError):
    """A request names a scope other than erasure, restriction, opt_out or correction."""

    code = "request.unknown_scope"


class UnknownRequestError(RequestError, LookupError):
    """No data-subject request with that ID exists for the caller's tenant."""

    code = "request.unknown"


class DuplicateRequestError(RequestError):
    """An open request with the same subject and scope already exists; its ID is in the message."""

    code = "request.duplicate"

    def __init__(self, message: str, *, existing_id: str) -> None:
        super().__init__(message)
        self.existing_id = existing_id

    def details(self) -> dict[str, str]:
        """Return ``{"existing_id": …}``: the open request a caller should follow instead."""
        return {"existing_id": self.existing_id}


class InvalidTokenError(RequestError):
    """A verification token is malformed, forged, already used or for another request."""

    code = "request.invalid_token"


class TokenExpiredError(InvalidTokenError):
    """A verification token is past its expiry time."""

    code = "request.token_expired"


class UnknownRegulationError(RequestError, LookupError):
    """A request names a regulation that has no deadline policy."""

    code = "request.unknown_regulation"


class BusError(ExpungeError):
    """The deletion bus could not publish, deliver or replay an event."""

    code = "bus.error"


class UnknownSubscriberError(BusError, UnknownNameError):
    """No subscriber is registered under the requested name."""

    code = "bus.unknown_subscriber"


class UnknownEventError(BusError, LookupError):
    """No event or dead letter with that ID exists."""

    code = "bus.unknown_event"


class AlreadyProcessedError(BusError):
    """An event that was already processed was submitted again."""

    code = "bus.already_processed"


class SubscriberFailedError(BusError):
    """A subscriber could not apply an event; the bus retries it with backoff."""

    code = "bus.subscriber_failed"


class BackendError(ExpungeError):
    """A storage, vector-store or cache backend failed."""

    code = "backend.error"


class UnknownBackendError(BackendError, UnknownNameError):
    """No backend is registered for the requested URL scheme or name."""

    code = "backend.unknown"


class InvalidDatabaseError(BackendError, ValueError):
    """A database URL or file cannot be used: garbage or truncated, a folder, or migrated by a newer expunge."""

    code = "backend.invalid_database"


class DatabaseBusyError(BackendError):
    """The database stayed locked by another writer for longer than the busy timeout; retry later."""

    code = "backend.busy"


class RagError(ExpungeError, ValueError):
    """A document, chunk, filter, vector or cache request of the retrieval side is malformed."""

    code = "rag.invalid"


class EmptyDocumentError(RagError):
    """A document to ingest has no text."""

    code = "rag.empty_document"


class InvalidFilterError(RagError):
    """A retrieval filter names a field the stores do not index, or gives a value of the wrong type."""

    code = "rag.invalid_filter"


class DimensionMismatchError(RagError):
    """A vector's dimension differs from the store's."""

    code = "rag.dimension_mismatch"


class EvidenceError(ExpungeError):
    """A receipt, signature or audit-log chain could not be produced or checked."""

    code = "evidence.error"


class TamperedEvidenceError(EvidenceError):
    """A signature or a hash link does not verify: the evidence was altered."""

    code = "evidence.tampered"


class EmptyLogError(TamperedEvidenceError):
    """There is no log entry to verify: an emptied log looks the same as a new one, so nothing verifies."""

    code = "evidence.empty_log"


class UnknownKeyError(EvidenceError, LookupError):
    """A receipt names a signing key that the verifier was not given."""

    code = "evidence.unknown_key"


class EvidenceInputError(EvidenceError, ValueError):
    """A file given to sign or verify with is missing or is not what it must be (a key, a checkpoint)."""

    code = "evidence.invalid_input"


class KeyMismatchError(EvidenceError, ValueError):
    """The public-key file of the signing key does not belong to the private key beside it."""

    code = "evidence.key_mismatch"


class AuthError(ExpungeError, PermissionError):
    """A caller is not authenticated: no API key, or a key that is unknown or revoked."""

    code = "auth.unauthenticated"


class ForbiddenError(AuthError):
    """An authenticated caller's role does not allow the operation."""

    code = "auth.forbidden"


class InvalidPageError(ExpungeError, ValueError):
    """A list was asked for with a page size out of range or a cursor it never handed out."""

    code = "page.invalid"


class PayloadTooLargeError(ExpungeError, ValueError):
    """A request body exceeds the configured size limit."""

    code = "service.payload_too_large"


def unknown_name_message(kind: str, name: object, available: Iterable[str]) -> str:
    """Build the one sentence used for every unknown registry key.

    Args:
        kind: What was looked up, e.g. ``"unlearning method"``.
        name: The name that was asked for.
        available: Every registered name; they are sorted here, never hand-typed.
    """
    names = ", ".join(sorted(available)) or "(none registered)"
    return f"Unknown {kind} {name!r}. Available: {names}."


class LMError(ExpungeError):
    """A language model, adapter, tokenizer or LM evaluation cannot be used as asked."""

    code = "lm.error"


class UnsupportedPrecisionError(LMError, ValueError):
    """An LM evaluation was asked of a model that is not fp32 (truth ratios are meaningless in fp16/bf16)."""

    code = "lm.unsupported_precision"


class LMEvaluationError(LMError, ValueError):
    """Inputs of an LM evaluation, probe or refusal guard do not fit (a canary naming no question, a bad threshold)."""

    code = "lm.evaluation"


class NotCausalLMError(LMError, ValueError):
    """A model path holds something other than a causal language model (a classifier, an encoder, no model)."""

    code = "lm.not_causal_lm"


class ModelFilesMissingError(LMError, FileNotFoundError):
    """A model or adapter folder lacks a file it needs (config, weights, tokenizer, manifest)."""

    code = "lm.missing_files"


class AdapterMismatchError(LMError, ValueError):
    """An adapter is loaded on base weights other than those it was trained on, or its weights were altered."""

    code = "lm.adapter_mismatch"


class SamplesNotLearntError(LMError, ValueError):
    """A forget set names samples the adapter never learnt; forgetting them would prove nothing."""

    code = "lm.samples_not_learnt"


class LMForgetError(LMError, ValueError):
    """A forget request a method cannot serve (no adapter or manifest, missing anchors, shared samples)."""

    code = "lm.invalid_forget_request"
