"""Licences of the models and data the steps use, as data: shown beside their output, checked for commercial work.

A licence says whether commercial use is allowed: "yes", "no", or "unknown" (nobody has checked the
terms of those weights for songforge). An album that says `commercial: true` is refused, before
anything runs, when a step it plans uses a "no" licence, or an "unknown" one the album does not
list under `licences_checked` (the user read the terms and vouches for them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Commercial = Literal["yes", "no", "unknown"]


@dataclass(frozen=True)
class Licence:
    """What a model or data file may be used for. `id` is short (an SPDX id where one exists)."""

    id: str
    name: str
    commercial: Commercial
    url: str = ""
    terms: str = ""  # what a user must do or know beyond the name (attribution, thresholds, ...)
    enterprise: bool = True  # False: commercial use only below the licence's revenue threshold (see terms)

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"

    @property
    def commercial_use(self) -> str:
        """'yes', 'no', 'unknown', or for a threshold licence 'yes, below its revenue threshold' (lists, reports)."""
        return self.commercial if self.enterprise else f"{self.commercial}, below its revenue threshold"


APACHE_2 = Licence("Apache-2.0", "Apache License 2.0", "yes", "https://www.apache.org/licenses/LICENSE-2.0")
MIT = Licence("MIT", "MIT License", "yes", "https://opensource.org/license/mit")
GPL_2 = Licence("GPL-2.0-only", "GNU General Public License v2", "yes", "https://www.gnu.org/licenses/gpl-2.0.html",
                "a sound font's licence covers the font, not the audio rendered with it")
GPL_3 = Licence("GPL-3.0-only", "GNU General Public License v3", "yes", "https://www.gnu.org/licenses/gpl-3.0.html")
CC_BY_4 = Licence("CC-BY-4.0", "Creative Commons Attribution 4.0", "yes",
                  "https://creativecommons.org/licenses/by/4.0/", "credit the authors")
CC_BY_NC_4 = Licence("CC-BY-NC-4.0", "Creative Commons Attribution-NonCommercial 4.0", "no",
                     "https://creativecommons.org/licenses/by-nc/4.0/", "no commercial use")
# Stable Audio Open's weights (LICENSE.md of stabilityai/stable-audio-open-1.0; stability.ai/license)
STABILITY_COMMUNITY = Licence(
    "Stability-AI-Community", "Stability AI Community License", "yes",
    "https://huggingface.co/stabilityai/stable-audio-open-1.0/blob/main/LICENSE.md",
    "commercial use is free only for an individual or organisation with under US$1,000,000 of annual revenue; "
    "above it, an Enterprise licence from Stability AI is needed (https://stability.ai/license). You own the audio "
    "you make; a product or service that makes the model available must ship the licence and show 'Powered by "
    "Stability AI', and all use must follow Stability AI's Acceptable Use Policy", enterprise=False)
# Meta Llama 3's weights (LICENSE of meta-llama/Meta-Llama-3-8B-Instruct; llama.meta.com/llama3/license)
LLAMA_3 = Licence(
    "Llama-3-Community", "Meta Llama 3 Community License", "yes", "https://llama.meta.com/llama3/license/",
    "commercial use is allowed unless the products or services using it had over 700 million monthly active users "
    "on the release date (then a licence from Meta is needed); show 'Built with Meta Llama 3', follow Meta's "
    "Acceptable Use Policy, and do not use the outputs to improve another large language model", enterprise=False)
CC_BY_NC_SA_4 = Licence("CC-BY-NC-SA-4.0", "Creative Commons Attribution-NonCommercial-ShareAlike 4.0", "no",
                        "https://creativecommons.org/licenses/by-nc-sa/4.0/", "no commercial use")


def unknown(name: str, url: str = "") -> Licence:
    """A model whose terms nobody has checked for songforge: refused for commercial work until the user has."""
    return Licence(name, "terms not checked", "unknown", url,
                   "read the model card; list it under licences_checked to vouch for it")


def commercial_problems(uses: list[tuple[str, Licence]], checked: set[str], enterprise: bool = False) -> list[str]:
    """For a commercial album: why each (step, licence) it plans may not be used; empty when all may.
    enterprise: the album's owner is above the revenue thresholds of licences with enterprise=False."""
    problems = []
    for step, licence in uses:
        if licence.commercial == "no":
            problems.append(f"step '{step}' uses {licence}, which forbids commercial use")
        elif licence.commercial == "unknown" and licence.id not in checked:
            problems.append(f"step '{step}' uses {licence.id}, whose terms nobody has checked")
        elif enterprise and not licence.enterprise and licence.id not in checked:
            problems.append(f"step '{step}' uses {licence}, which allows commercial use only below a revenue "
                            f"threshold, and the album says enterprise: true ({licence.terms}); holding the "
                            f"licensor's enterprise licence, list {licence.id} under licences_checked")
    return problems


class LicenceTerms(UserWarning):
    """The terms of a licence a commercial album may use only on conditions (printed before any run)."""


def commercial_terms(uses: list[tuple[str, Licence]]) -> list[str]:
    """For a commercial album that may use them: the conditions of each threshold licence it plans, a line each."""
    return [f"step '{step}' uses {licence}: commercial use on its terms: {licence.terms} ({licence.url})"
            for step, licence in uses if licence.commercial == "yes" and not licence.enterprise]
