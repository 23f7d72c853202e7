"""The connection of the ``cstore`` connector type (see `bitewing.core.targets.cstore` for its behaviour)."""

from __future__ import annotations

import logging
import uuid
from io import BytesIO
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom.association import Association
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind,
    Verification,
)

from bitewing.core.plugins.connectors import CheckResult, Connection, ConnectorError, InstanceRef, StoreResult
from bitewing.core.targets.dimse import DimseSettings, NoAcceptedContext, context, open_association

log = logging.getLogger(__name__)

UNCOMPRESSED = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
FIND = StudyRootQueryRetrieveInformationModelFind


def _status_code(status: Dataset) -> int | None:
    return int(status.Status) if "Status" in status else None


def _is_stored(code: int) -> bool:
    return code == 0x0000 or code == 0x0001 or 0xB000 <= code <= 0xBFFF


def _store_failure(code: int, label: str) -> ConnectorError:
    if 0xA700 <= code <= 0xA7FF:
        return ConnectorError(
            f"{label} is out of resources (status 0x{code:04X}): will retry", retryable=True
        )
    if 0xA900 <= code <= 0xA9FF:
        reason = "the data set does not match its SOP class"
    elif 0xC000 <= code <= 0xCFFF:
        reason = "it cannot understand the instance"
    else:
        reason = {
            0x0110: "processing failure",
            0x0122: "SOP class not supported",
            0x0124: "not authorised",
        }.get(code, "refused")
    return ConnectorError(f"{label} refused the instance: {reason} (status 0x{code:04X})", retryable=False)


def _sop_class_name(uid: str) -> str:
    name = UID(uid).name
    return name if name and name != uid else f"SOP class {uid}"


class CStoreConnection(Connection):
    """A DICOM peer; keeps at most one association open (behaviour: see `bitewing.core.targets.cstore`)."""

    def __init__(self, settings: DimseSettings) -> None:
        self.settings = settings
        self._assoc: Association | None = None
        self._find_offered: bool | None = None
        """Whether the last association that proposed Study Root C-FIND got it accepted (None: not known)."""

    # --- associations ---------------------------------------------------------------------------------------

    def _release(self) -> None:
        if self._assoc is not None:
            if self._assoc.is_established:
                self._assoc.release()
            self._assoc = None

    def _live(self) -> Association | None:
        if self._assoc is not None and not self._assoc.is_established:
            self._assoc = None
        return self._assoc

    @staticmethod
    def _accepted(assoc: Association, abstract: str, syntaxes: tuple[str, ...] | None = None) -> str | None:
        """The first accepted transfer syntax for `abstract` (among `syntaxes`, in that order), or None."""
        taken = [cx.transfer_syntax[0] for cx in assoc.accepted_contexts if cx.abstract_syntax == abstract]
        for syntax in syntaxes or tuple(taken):
            if syntax in taken:
                return syntax
        return None

    def _associate(self, contexts: list[Any], what: str) -> Association:
        self._release()
        self._assoc = open_association(self.settings, contexts, what)
        if any(cx.abstract_syntax == FIND for cx in contexts):
            self._find_offered = self._accepted(self._assoc, FIND) is not None
        return self._assoc

    # --- check ----------------------------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """C-ECHO, then a C-FIND probe to tell whether deliveries can be verified by query."""
        where = f"host {self.settings.host} port {self.settings.port}"
        contexts = [context(Verification, s) for s in UNCOMPRESSED] + [context(FIND, s) for s in UNCOMPRESSED]
        try:
            assoc = self._associate(contexts, "C-ECHO or C-FIND")
        except ConnectorError as exc:
            return CheckResult(ok=False, steps=[exc.message])
        steps = [
            f"Connected to {where}{' over TLS' if self.settings.tls else ''}",
            f"{self.settings.called_ae} accepted the association from AE title {self.settings.calling_ae}",
        ]
        ok = True
        if self._accepted(assoc, Verification):
            code = _status_code(assoc.send_c_echo())
            if code == 0x0000:
                steps.append("C-ECHO answered: DICOM communication works")
            else:
                ok = False
                steps.append(f"C-ECHO failed ({'no answer' if code is None else f'status 0x{code:04X}'})")
        else:
            steps.append("The target does not answer C-ECHO (verification service not offered)")
        steps.append(self._find_probe(assoc))
        self._release()
        return CheckResult(ok=ok, steps=steps)

    def _find_probe(self, assoc: Association) -> str:
        trusting = "deliveries are verified only by the target's C-STORE success status"
        if not self._accepted(assoc, FIND) or not assoc.is_established:
            return f"The target does not offer C-FIND: {trusting}"
        probe = InstanceRef(
            *(f"2.25.{uuid.uuid4().int}" for _ in range(5)), sha256="", size=0, object_name=""
        )
        found = self._find(assoc, probe)
        if found is None:
            return (
                f"The target refused Bitewing's C-FIND query (it may need AE title {self.settings.calling_ae} "
                f"registered to allow queries): {trusting}"
            )
        return "C-FIND works: deliveries will be verified by querying the target"

    # --- store ----------------------------------------------------------------------------------------------

    def store_instance(self, data: bytes, ref: InstanceRef) -> StoreResult:
        """C-STORE the instance (syntaxes and statuses: see `bitewing.core.targets.cstore`)."""
        try:
            dataset = dcmread(BytesIO(data))
            syntax = UID(dataset.file_meta.TransferSyntaxUID)
            sop_class = UID(dataset.SOPClassUID)
            sop_instance = str(dataset.SOPInstanceUID)
        except (InvalidDicomError, AttributeError, ValueError, EOFError) as exc:
            raise ConnectorError(
                f"The instance is not a readable DICOM file: {exc}", retryable=False
            ) from exc
        if sop_instance != ref.sop_instance_uid:
            raise ConnectorError(
                f"The instance bytes carry SOP Instance UID {sop_instance}, not {ref.sop_instance_uid}",
                retryable=False,
            )
        wanted = (syntax,) if syntax.is_compressed else (syntax, *(s for s in UNCOMPRESSED if s != syntax))
        assoc = self._live()
        if assoc is None or not self._accepted(assoc, sop_class, wanted):
            syntaxes = [syntax, *(s for s in UNCOMPRESSED if s != syntax)]
            contexts = [context(sop_class, s) for s in syntaxes] + [context(FIND, s) for s in UNCOMPRESSED]
            try:
                assoc = self._associate(contexts, _sop_class_name(sop_class))
            except NoAcceptedContext as exc:
                raise ConnectorError(
                    f"{self.settings.label} does not accept {_sop_class_name(sop_class)} images",
                    retryable=False,
                ) from exc
        if not self._accepted(assoc, sop_class, wanted):
            self._release()
            if self._accepted(assoc, sop_class):
                raise ConnectorError(
                    f"{self.settings.label} accepts this image only uncompressed ({syntax.name} refused): set "
                    'the target\'s transfer syntax to "uncompressed"',
                    retryable=False,
                )
            raise ConnectorError(
                f"{self.settings.label} does not accept {_sop_class_name(sop_class)} images", retryable=False
            )
        try:
            status = assoc.send_c_store(dataset)
        except (ValueError, AttributeError) as exc:  # pynetdicom cannot encode it for the accepted context
            self._release()
            raise ConnectorError(
                f"Cannot send the instance to {self.settings.label}: {exc}", retryable=False
            ) from exc
        code = _status_code(status)
        if code is None:
            self._release()
            raise ConnectorError(
                f"{self.settings.label} did not answer the C-STORE (connection lost or no answer within "
                f"{self.settings.timeout:g} s)",
                retryable=True,
            )
        if not _is_stored(code):
            raise _store_failure(code, self.settings.label)
        detail = "stored" if code == 0x0000 else f"stored with warning 0x{code:04X}"
        return StoreResult(remote_id=None, detail=f"C-STORE: {detail}")

    # --- verify ---------------------------------------------------------------------------------------------

    def _find(self, assoc: Association, ref: InstanceRef) -> bool | None:
        """Whether a C-FIND at IMAGE level matches `ref`; None when the peer refused or dropped the query."""
        query = Dataset()
        query.QueryRetrieveLevel = "IMAGE"
        query.StudyInstanceUID = ref.study_instance_uid
        query.SeriesInstanceUID = ref.series_instance_uid
        query.SOPInstanceUID = ref.sop_instance_uid
        found = False
        for status, identifier in assoc.send_c_find(query, FIND):
            code = _status_code(status)
            if code is None:
                self._release()
                return None
            if code in (0xFF00, 0xFF01):
                if identifier is not None and identifier.get("SOPInstanceUID") == ref.sop_instance_uid:
                    found = True
            elif code == 0x0000:
                return found
            elif 0xA700 <= code <= 0xA7FF:
                raise ConnectorError(
                    f"{self.settings.label} is out of resources (C-FIND status 0x{code:04X}): will retry",
                    retryable=True,
                )
            else:
                log.warning("C-FIND on %s failed with status 0x%04X", self.settings.label, code)
                return None
        return None

    def verify_instance(self, ref: InstanceRef) -> bool:
        """Whether a Study Root C-FIND at IMAGE level finds the instance on the peer.

        When the peer offers no C-FIND (dcmtk storescp, many archives) or refuses our query (Orthanc, for an AE
        title it does not know), this returns True without checking: verification then trusts the C-STORE
        success status, and says so in the log (and `check()` says so to the practice owner).

        :raises ConnectorError: when the peer cannot be reached (retryable) or is out of resources.
        """
        if self._find_offered is False:
            return True
        assoc = self._live()
        if assoc is None or not self._accepted(assoc, FIND):
            try:
                assoc = self._associate([context(FIND, s) for s in UNCOMPRESSED], "C-FIND (Study Root)")
            except NoAcceptedContext:
                log.info("%s offers no C-FIND: trusting the C-STORE status", self.settings.label)
                return True
        found = self._find(assoc, ref)
        if found is None:
            log.warning("%s refused the C-FIND query: trusting the C-STORE status", self.settings.label)
            return True
        return found

    def close(self) -> None:
        self._release()
