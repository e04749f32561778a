"""The error tree of expunge: one root, one base per area, stable codes.

Every error expunge raises on purpose derives from :class:`ExpungeError` and carries a stable
``code`` (``"<area>.<what>"``) that is written into audit records and API responses, so it must never
change once released. Where a builtin fits, the error also subclasses it, so ``except ValueError``
keeps working for callers who do not know expunge::

    ExpungeError
    ├── ConfigError (ValueError)                   config.*
    ├── DataError                                  data.*
    │   ├── DataUnavailableError (FileNotFoundError)
    │   ├── UnknownDatasetError (LookupError)
    │   ├── InvalidForgetSetError (ValueError)
    │   └── ChecksumMismatchError
    ├── ModelError (ValueError)                    model.*
    │   └── UnknownArchitectureError (LookupError)
    ├── MethodError                                unlearn.*
    │   ├── UnknownMethodError (LookupError)
    │   └── InvalidParameterError (ValueError)
    ├── AuditError (ValueError)                    audit.*
    │   ├── UnknownAttackError (LookupError)
    │   └── InsufficientDataError (ValueError)
    ├── RequestError (ValueError)                  request.*
    │   └── InvalidTransition
    ├── BackendError                               backend.*
    │   ├── UnknownBackendError (LookupError)
    │   ├── InvalidDatabaseError (ValueError)
    │   └── DatabaseBusyError
    ├── InvalidPageError (ValueError)              page.invalid
    ├── LMError                                    lm.*
    │   ├── UnsupportedPrecisionError (ValueError)
    │   ├── LMEvaluationError (ValueError)
    │   └── … the model side's errors (NotCausalLMError, ModelFilesMissingError, AdapterMismatchError,
    │       SamplesNotLearntError): see the lm section at the end
    └── EvidenceError                              evidence.*
        └── TamperedEvidenceError
            └── EmptyLogError

HTTP statuses are mapped in ``expunge.service`` only and exit codes in ``expunge.cli`` only: an area
raises, it never decides how the failure is shown.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "AuditError",
    "BackendError",
    "ChecksumMismatchError",
    "ConfigError",
    "DataError",
    "DataUnavailableError",
    "DatabaseBusyError",
    "EmptyLogError",
    "EvidenceError",
    "ExpungeError",
    "InsufficientDataError",
    "InvalidDatabaseError",
    "InvalidForgetSetError",
    "InvalidPageError",
    "InvalidParameterError",
    "InvalidTransition",
    "LMError",
    "LMEvaluationError",
    "MethodError",
    "ModelError",
    "RequestError",
    "TamperedEvidenceError",
    "UnknownArchitectureError",
    "UnknownAttackError",
    "UnknownBackendError",
    "UnknownDatasetError",
    "UnknownMethodError",
    "UnsupportedPrecisionError",
    "unknown_name_message",
]


class ExpungeError(Exception):
    """Root of every error expunge raises on purpose."""

    code = "expunge.error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        """The human sentence, without the class name."""
        return str(self.args[0]) if self.args else ""


class ConfigError(ExpungeError, ValueError):
    """A setting or a configuration file is invalid."""

    code = "config.invalid"


class DataError(ExpungeError):
    """A data set, a sample ID or a forget set is wrong."""

    code = "data.invalid"


class DataUnavailableError(DataError, FileNotFoundError):
    """A data set's files are not installed on this machine; the message says how to get them."""

    code = "data.unavailable"


class UnknownDatasetError(DataError, LookupError):
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


class UnknownArchitectureError(ModelError, LookupError):
    """No model architecture is registered under the requested name."""

    code = "model.unknown_architecture"


class MethodError(ExpungeError):
    """An unlearning method failed or was misconfigured."""

    code = "unlearn.error"


class UnknownMethodError(MethodError, LookupError):
    """No unlearning method is registered under the requested name."""

    code = "unlearn.unknown_method"


class InvalidParameterError(MethodError, ValueError):
    """A method parameter is outside what the method accepts."""

    code = "unlearn.invalid_parameter"


class AuditError(ExpungeError, ValueError):
    """An audit could not be run as asked (a missing reference, incompatible models, a bad policy)."""

    code = "audit.error"


class UnknownAttackError(AuditError, LookupError):
    """No membership-inference attack is registered under the requested name."""

    code = "audit.unknown_attack"


class InsufficientDataError(AuditError, ValueError):
    """Too few samples to measure what was asked (e.g. a TPR at a very low FPR)."""

    code = "audit.insufficient_data"


class RequestError(ExpungeError, ValueError):
    """A data-subject request is malformed or cannot proceed."""

    code = "request.invalid"


class InvalidTransition(RequestError):  # noqa: N818 - the name is the domain's word
    """A request was asked to move between two states the transition table does not link."""

    code = "request.invalid_transition"


class BackendError(ExpungeError):
    """A storage, vector-store or cache backend failed."""

    code = "backend.error"


class UnknownBackendError(BackendError, LookupError):
    """No backend is registered for the requested URL scheme or name."""

    code = "backend.unknown"


class InvalidDatabaseError(BackendError, ValueError):
    """A database URL or file cannot be used: garbage or truncated, a folder, or migrated by a newer expunge."""

    code = "backend.invalid_database"


class DatabaseBusyError(BackendError):
    """The database stayed locked by another writer for longer than the busy timeout; retry later."""

    code = "backend.busy"


class InvalidPageError(ExpungeError, ValueError):
    """A list was asked for with a page size out of range or a cursor it never handed out."""

    code = "page.invalid"


class EvidenceError(ExpungeError):
    """A receipt, signature or audit-log chain could not be produced or checked."""

    code = "evidence.error"


class TamperedEvidenceError(EvidenceError):
    """A signature or a hash link does not verify: the evidence was altered."""

    code = "evidence.tampered"


class EmptyLogError(TamperedEvidenceError):
    """There is no log entry to verify: an emptied log looks the same as a new one, so nothing verifies."""

    code = "evidence.empty_log"


class LMError(ExpungeError):
    """A language model, adapter, tokenizer or LM evaluation cannot be used as asked."""

    code = "lm.error"


class UnsupportedPrecisionError(LMError, ValueError):
    """An LM evaluation was asked of a model that is not fp32 (truth ratios are meaningless in fp16/bf16)."""

    code = "lm.unsupported_precision"


class LMEvaluationError(LMError, ValueError):
    """Inputs of an LM evaluation, probe or refusal guard do not fit (a canary naming no question, a bad threshold)."""

    code = "lm.evaluation"


def unknown_name_message(kind: str, name: object, available: Iterable[str]) -> str:
    """Build the one sentence used for every unknown registry key.

    Args:
        kind: What was looked up, e.g. ``"unlearning method"``.
        name: The name that was asked for.
        available: Every registered name; they are sorted here, never hand-typed.
    """
    names = ", ".join(sorted(available)) or "(none registered)"
    return f"Unknown {kind} {name!r}. Available: {names}."


# --- governance half: catalog, requests, bus, evidence, service ------------------------------------
#
#    ExpungeError
#    ├── CatalogError (ValueError)                 catalog.*
#    │   ├── InvalidIdentifierError
#    │   ├── UnknownAssetError (LookupError)
#    │   └── TombstonedContentError
#    ├── RequestError (ValueError)                 request.*
#    │   ├── UnknownScopeError
#    │   ├── UnknownRequestError (LookupError)
#    │   ├── DuplicateRequestError
#    │   ├── InvalidTokenError
#    │   │   └── TokenExpiredError
#    │   └── UnknownRegulationError (LookupError)
#    ├── BusError                                  bus.*
#    │   ├── UnknownSubscriberError (LookupError)
#    │   ├── UnknownEventError (LookupError)
#    │   ├── AlreadyProcessedError
#    │   └── SubscriberFailedError
#    ├── EvidenceError ... UnknownKeyError (LookupError)
#    │   ├── EvidenceInputError (ValueError)
#    │   └── KeyMismatchError (ValueError)
#    ├── AuthError (PermissionError)               auth.*
#    │   └── ForbiddenError
#    └── PayloadTooLargeError (ValueError)         service.payload_too_large

__all__ += [
    "AlreadyProcessedError",
    "AuthError",
    "BusError",
    "CatalogError",
    "DuplicateRequestError",
    "EvidenceInputError",
    "ForbiddenError",
    "InvalidIdentifierError",
    "InvalidTokenError",
    "KeyMismatchError",
    "PayloadTooLargeError",
    "SubscriberFailedError",
    "SuppressedSubjectError",
    "TokenExpiredError",
    "TombstonedContentError",
    "UnknownAssetError",
    "UnknownEventError",
    "UnknownKeyError",
    "UnknownRegulationError",
    "UnknownRequestError",
    "UnknownScopeError",
    "UnknownSubscriberError",
]


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


class UnknownSubscriberError(BusError, LookupError):
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


class PayloadTooLargeError(ExpungeError, ValueError):
    """A request body exceeds the configured size limit."""

    code = "service.payload_too_large"


# --- rag: chunks, embeddings, vector stores, caches ------------------------------------------------
#
#    ExpungeError
#    └── RagError (ValueError)                     rag.*
#        ├── EmptyDocumentError
#        ├── InvalidFilterError
#        └── DimensionMismatchError
#    (an unknown store URL scheme is an UnknownBackendError)

__all__ += ["DimensionMismatchError", "EmptyDocumentError", "InvalidFilterError", "RagError"]


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


# --- lm: language models, adapters, LM forgetting --------------------------------------------------
#
#    ExpungeError
#    └── LMError                                   lm.* (defined above with the evaluation's errors)
#        ├── NotCausalLMError (ValueError)         a path that holds no causal language model
#        ├── ModelFilesMissingError (FileNotFoundError)
#        ├── AdapterMismatchError (ValueError)     an adapter trained on other base weights
#        ├── SamplesNotLearntError (ValueError)    a forget set naming samples an adapter never saw
#        └── LMForgetError (ValueError)            a forget request a method cannot serve as given
#    (an unknown LM method is an UnknownMethodError, a dose out of range an InvalidParameterError)

__all__ += [
    "AdapterMismatchError", "LMForgetError", "ModelFilesMissingError", "NotCausalLMError", "SamplesNotLearntError",
]  # fmt: skip


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
    """A forget request a method cannot serve as given (no adapter, no manifest, missing anchors or reference people,
    an adapter that would take other samples with it)."""

    code = "lm.invalid_forget_request"
