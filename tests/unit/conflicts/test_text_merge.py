"""Word-level three-way merge of task texts."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_engine.conflicts import merge_words
from sync_engine.conflicts.strategies import merge_words as merge_words_from_strategies
from sync_engine.conflicts.text_merge import tokenize


@pytest.mark.parametrize(
    ("base", "ours", "theirs", "merged"),
    [
        pytest.param(
            "Écrire les tests du parseur",
            "Écrire les tests unitaires du parseur",
            "Écrire les tests du parseur Markdown",
            "Écrire les tests unitaires du parseur Markdown",
            id="insertions-apart",
        ),
        pytest.param(
            "Écrire les tests du parseur",
            "Relire les tests du parseur",
            "Écrire les tests du lexeur",
            "Relire les tests du lexeur",
            id="replacements-apart",
        ),
        pytest.param(
            "Écrire les tests du parseur",
            "Écrire vite les tests du parseur",
            "Relire les tests du parseur.",
            "Relire vite les tests du parseur.",
            id="touching-edits-have-one-order",
        ),
        pytest.param(
            "Mettre à jour la documentation",
            "Mettre à jour la documentation",
            "Mettre à jour la documentation (README)",
            "Mettre à jour la documentation (README)",
            id="only-theirs-changed",
        ),
        pytest.param(
            "Mettre à jour la doc",
            "Mettre à jour la documentation",
            "Mettre à jour la doc",
            "Mettre à jour la documentation",
            id="only-ours-changed",
        ),
        pytest.param(
            "Vérifier l'index",
            "Vérifier l'index Qdrant",
            "Vérifier l'index Qdrant",
            "Vérifier l'index Qdrant",
            id="same-edit-on-both-sides",
        ),
        pytest.param(
            "Créer la table des tâches, puis l'index",
            "Créer la table des tâches (PostgreSQL), puis l'index",
            "Créer la table des tâches, puis l'index HNSW",
            "Créer la table des tâches (PostgreSQL), puis l'index HNSW",
            id="punctuation-kept",
        ),
        pytest.param(
            "Relire  le\tparseur ",
            "Relire  le\tparseur Markdown ",
            "Corriger  le\tparseur ",
            "Corriger  le\tparseur Markdown ",
            id="spacing-kept",
        ),
        pytest.param(
            "Étape\u00a01 : créer l'élément",
            "Étape\u00a01 : créer l'élément générique",
            "Étape\u00a02 : créer l'élément",
            "Étape\u00a02 : créer l'élément générique",
            id="no-break-space-and-accents",
        ),
        pytest.param(
            "Déployer 🚀 en préproduction",
            "Déployer 🚀 en production",
            "Déployer 🚀✅ en préproduction",
            "Déployer 🚀✅ en production",
            id="emoji",
        ),
        pytest.param(
            "Écrire les tests\nRelire",
            "Écrire les tests\nRelire la doc",
            "Écrire des tests\nRelire",
            "Écrire des tests\nRelire la doc",
            id="newline-kept",
        ),
        pytest.param("", "", "Nouvelle tâche", "Nouvelle tâche", id="empty-base-one-side"),
    ],
)
def test_edits_that_do_not_overlap_merge(base: str, ours: str, theirs: str, merged: str) -> None:
    assert merge_words(base, ours, theirs) == merged
    assert merge_words(base, theirs, ours) == merged


@pytest.mark.parametrize(
    ("base", "ours", "theirs"),
    [
        pytest.param(
            "Écrire les tests du parseur",
            "Relire les tests du parseur",
            "Corriger les tests du parseur",
            id="same-word-changed-differently",
        ),
        pytest.param(
            "Écrire les tests",
            "Écrire les tests unitaires",
            "Écrire les tests d'intégration",
            id="insertions-at-the-same-point",
        ),
        pytest.param(
            "Écrire les tests unitaires du parseur",
            "Écrire les tests du parseur",
            "Écrire les tests d'intégration du parseur",
            id="deleted-vs-replaced",
        ),
        pytest.param(
            "Écrire les tests du parseur",
            "Écrire les tests du nouveau parseur",
            "Écrire les tests",
            id="inserted-inside-a-deletion",
        ),
        pytest.param("Tâche", "Tâche.", "Tâche !", id="punctuation-at-the-same-point"),
        pytest.param("", "Première", "Seconde", id="empty-base-both-sides"),
    ],
)
def test_edits_that_overlap_give_none(base: str, ours: str, theirs: str) -> None:
    assert merge_words(base, ours, theirs) is None
    assert merge_words(base, theirs, ours) is None


def test_accents_survive_in_either_unicode_form() -> None:
    base = unicodedata.normalize("NFD", "Préparer l'été")
    ours = unicodedata.normalize("NFD", "Préparer l'été 2025")
    theirs = unicodedata.normalize("NFD", "Réviser l'été")
    assert merge_words(base, ours, theirs) == unicodedata.normalize("NFD", "Réviser l'été 2025")


def test_strategies_module_exposes_merge_words() -> None:
    assert merge_words_from_strategies is merge_words


def test_tokens_are_words_spaces_and_single_marks() -> None:
    assert tokenize("Écrire  l'API, vite !") == [
        "Écrire",
        "  ",
        "l",
        "'",
        "API",
        ",",
        " ",
        "vite",
        " ",
        "!",
    ]


WORDS = st.sampled_from(["Écrire", "les", "tests", "du", "parseur", ",", ".", "à", "l'été"])
SPACES = st.sampled_from([" ", "  ", "\t", "\n"])


@st.composite
def texts(draw: st.DrawFn) -> str:
    words = draw(st.lists(WORDS, max_size=6))
    return "".join(word + draw(SPACES) for word in words)


@settings(max_examples=300, deadline=None)
@given(texts(), texts(), texts())
def test_merge_properties(base: str, ours: str, theirs: str) -> None:
    assert "".join(tokenize(ours)) == ours
    assert merge_words(base, ours, base) == ours
    assert merge_words(base, base, theirs) == theirs
    assert merge_words(base, ours, ours) == ours
    assert merge_words(base, ours, theirs) == merge_words(base, theirs, ours)
