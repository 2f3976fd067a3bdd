"""``FilterText``: normalize every document and apply the text rule chain; failures become rejects.

The rule chain (and langid's model) is built once per worker in ``DoFn.setup``. Outputs: ``kept``
(documents with normalized text) and ``rejects`` (``Reject`` with the rule's reason and detail).
"""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam

from trimodal_data.metrics import ReasonCounters
from trimodal_data.records import Document, Reject
from trimodal_data.rules.text_filters import TextFiltersConfig, TextRuleChain


class _FilterText(beam.DoFn):
    def __init__(self, config: TextFiltersConfig) -> None:
        self.config = config

    def setup(self) -> None:
        self.chain = TextRuleChain(self.config)
        self.counters = ReasonCounters()

    def process(self, doc: Document) -> Iterator[Document | beam.pvalue.TaggedOutput]:
        result = self.chain(doc.text)
        if result.reason is None:
            yield Document(id=doc.id, source=doc.source, text=result.text)
        else:
            yield beam.pvalue.TaggedOutput(
                "rejects", Reject(id=doc.id, source=doc.source, reason=result.reason, detail=result.detail)
            )


class FilterText(beam.PTransform):
    """``PCollection[Document]`` -> tagged ``kept`` and ``rejects``."""

    def __init__(self, config: TextFiltersConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, docs: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return docs | "Rules" >> beam.ParDo(_FilterText(self.config)).with_outputs("rejects", main="kept")
