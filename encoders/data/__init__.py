"""Data tools: importers from public data sets into the canonical data folder, a synthetic
generator with known interest switches, and the shipped sample.

Every importer returns the records it built and an :class:`~encoders.data.summary.ImportReport`
(rows read, kept, dropped per reason); writing goes through
:func:`encoders.data.folder.write_folder`.
"""

from encoders.data.summary import DataImportError, ImportReport

__all__ = ["DataImportError", "ImportReport"]
