"""Analyst feedback labels: one vocabulary for the API that stores them and training that reads them."""

from __future__ import annotations

from enum import StrEnum


class FeedbackLabel(StrEnum):
    TRUE_POSITIVE = "true_positive"  # the verdict was right: keeps its class as a training label
    FALSE_POSITIVE = "false_positive"  # an alert on harmless activity: benign, and suppresses the rule hit
    BENIGN = "benign"  # harmless activity (whatever the verdict said): benign
    CORRECTED_CLASS = "corrected_class"  # wrong class: the analyst names the right one


# An analyst's false positive proposes a suppression that lapses after this many days unless an admin
# approves (and may extend) it: the SUPPRESSION_PROPOSAL_DAYS default (docs/api.md "Security").
PROPOSAL_DAYS = 7.0


class SuppressionStatus(StrEnum):
    PROPOSED = "proposed"  # from an analyst's false positive: not in force until an admin approves it
    APPROVED = "approved"  # added or approved by an admin: in force while active and unexpired
