"""Realistic catalogue text: artist names, titles and dates, as the real CSVs have them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from painter_match.data.synth.style import _Style

# fmt: off
_FIRST = (
    "Zoë", "José", "Søren", "Łukasz", "Anaïs", "Mikhail", "Hélène", "Jürgen", "Ingrid", "Tomás", "Ōta",
    "Camille", "Paul", "Berthe", "Ilya", "Frida", "Giovanni", "Agnès", "Henri", "Mary", "Wassily",
    "Élisabeth", "Kazimir", "Tamara", "Edvard", "Sofonisba", "Jean-Baptiste", "Nikolaï", "Gustave",
    "Marianne", "Ángel", "Dörte",
)
_LAST = (
    "Ångström", "Núñez", "Kierkegård", "Wróbel", "Dubois", "Vrubelʹ", "Lefèvre", "Müller", "Lindqvist",
    "Ó Briain", "Hiroshige", "Pissarro-Blanc", "Morisot", "Repin", "Kahlo", "Bellini", "Varda", "Rousseau",
    "Cassatt", "Kandinsky", "Vigée", "Malevich", "de Lempicka", "Munch", "Anguissola", "Corot", "Rœrich",
    "Courbet", "von Werefkin", "Sorolla", "Çelik", "van der Weyden",
)
_SINGLE = (
    "Giotto", "Masaccio", "Sōtatsu", "El Greco", "Canaletto",
)
_SUBJECTS = (
    "Haystacks", "Woman with a Parasol", "Still Life with Pomegranates", "Nocturne in Blue and Gold",
    "The Bathers", "Café Terrace at Night", "Portrait of Mme. Höffner", "Self-Portrait", "Harbour at Dawn",
    "The Poplars", "Composition", "Girl Reading", "Wheatfield with Crows", "Interior, Evening",
    "The Red Room", "Mont Sainte-Victoire", "Boats on the Shore", "Garden in Bloom", "Études de nuages",
    "Winter Landscape", "Flowers in a Vase", "The Card Players", "Street in the Rain", "Saint Jérôme",
    "The Orchard",
)
_PLACES = (
    "Arles", "Montmartre", "Gdańsk", "Sevilla", "Kraków", "São Paulo", "Zürich", "Trondheim",
    "Île de la Cité", "Delft",
)
_STYLES = (
    "Impressionism", "Post-Impressionism", "Expressionism", "Realism", "Romanticism", "Art Nouveau (Modern)",
    "Naïve Art (Primitivism)", "Abstract Expressionism", "Cubism", "Pointillism", "Color Field Painting",
    "Symbolism", "Baroque", "Fauvism", "Northern Renaissance",
)
_GENRES = (
    ("landscape", "cityscape", "marina"),  # horizon
    ("portrait", "still life", "religious painting"),  # blob
    ("genre painting", "landscape", "mythological painting"),  # diagonal
    ("abstract", "design", "cityscape"),  # grid
    ("abstract", "interior", "genre painting"),  # bands
    ("abstract", "flower painting", "sketch and study"),  # field
)
# fmt: on


@dataclass(frozen=True)
class _Artist:
    index: int
    name: str
    style: _Style
    train: bool  # a training artist (else test-only)
    main_style: str
    other_style: str
    first_year: int
    span: int


def _artist_names(rng: np.random.Generator, n: int) -> list[str]:
    names: list[str] = []
    taken: set[str] = set()
    while len(names) < n:
        if rng.random() < 0.06:
            name = _SINGLE[int(rng.integers(len(_SINGLE)))]
        else:
            name = f"{_FIRST[int(rng.integers(len(_FIRST)))]} {_LAST[int(rng.integers(len(_LAST)))]}"
        if name in taken:
            # Many artists (a big config) exhaust the combinations; disambiguate as catalogues do.
            k = 2
            while f"{name} ({k})" in taken:
                k += 1
            name = f"{name} ({k})"
        taken.add(name)
        names.append(name)
    return names


def _title(rng: np.random.Generator) -> str:
    subject = _SUBJECTS[int(rng.integers(len(_SUBJECTS)))]
    place = _PLACES[int(rng.integers(len(_PLACES)))]
    form = int(rng.integers(8))
    if form == 0:
        return f"{subject}, {place}"
    if form == 1:
        return f'Study for "{subject}"'
    if form == 2:
        return f"{subject} (No. {int(rng.integers(1, 12))})"
    if form == 3:
        return "Untitled"
    if form == 4:
        return f"'{subject}', second version"
    return subject


def _date(rng: np.random.Generator, year: int) -> str:
    form = rng.random()
    if form < 0.45:
        return str(year)
    if form < 0.65:
        return f"{year}.0"
    if form < 0.80:
        return f"c.{year}"
    if form < 0.85:
        return f"{year}-{year + int(rng.integers(1, 4))}"
    return ""
