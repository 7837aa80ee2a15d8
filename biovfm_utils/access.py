"""How to obtain each source: the steps behind its access route.

The catalog records an access route per source (``open``, ``registration``,
``credentialed``, ``kaggle``, ``huggingface`` or ``challenge``) and the owner's own
wording in ``access_details``. This module turns them into numbered steps for the
command line, error messages and the modality chapters of the book.
"""

from __future__ import annotations

import pandas as pd

from biovfm_utils.local_copies import DATA_ROOT_VARIABLE

_ROUTE_STEPS = {
    "open": [
        "Open {url} and download the data; no account is needed.",
    ],
    "registration": [
        "Open {url}.",
        "Follow the owner's access procedure, as recorded in the catalog: {details}.",
        "Accept the terms of use, and download the data once access is granted.",
    ],
    "credentialed": [
        "Create a PhysioNet account and complete credentialing: identity "
        "verification and training in human-subjects research.",
        "Sign the data use agreement on the project page ({url}); the catalog "
        "records: {details}.",
        "Download the files from PhysioNet.",
    ],
    "kaggle": [
        "Sign in to Kaggle.",
        "Open {url} and accept the competition rules or dataset terms; the "
        "catalog records: {details}.",
        "Download with the page's download button or the Kaggle command-line tool.",
    ],
    "huggingface": [
        "Open {url}; the catalog records: {details}.",
        "If the dataset is gated, sign in to Hugging Face and accept its terms.",
        "Download the files with the Hugging Face tools or the web page.",
    ],
    "challenge": [
        "Create an account on the challenge platform ({url}).",
        "Join the challenge and accept its data agreement; the catalog records: "
        "{details}.",
        "Download the data from the challenge's data page.",
    ],
}


def access_steps(source: pd.Series) -> list[str]:
    """Return the steps to obtain a source, ending with how to use a local copy.

    Parameters
    ----------
    source
        A row of :func:`biovfm_utils.catalog.load_catalog`.
    """
    from biovfm_utils.catalog import slugify

    template = _ROUTE_STEPS[source["access"]]
    steps = [
        step.format(url=source["url"], details=source["access_details"])
        for step in template
    ]
    names = [slugify(name) for name in [source["name"], *source.get("aliases", [])]]
    folders = " or ".join(f"'{name}'" for name in dict.fromkeys(names))
    steps.append(
        f"To let biovfm_utils read your copy, put it in a folder named {folders} "
        f"under the folder named by the {DATA_ROOT_VARIABLE} environment variable "
        "(or pass local_root= in Python)."
    )
    return steps


def access_summary(source: pd.Series) -> str:
    """Return the access route with the owner's wording and its evidence grade."""
    grade = source["access_evidence"]
    note = "" if grade == "official" else f" [{grade}]"
    return f"{source['access_label']}: {source['access_details']}{note}"
