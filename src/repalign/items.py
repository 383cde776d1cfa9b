"""The items behind embedding rows: lines of a text file and images of a folder.

One reader each, shared by ``repalign embed``, ``spec``, ``layers`` and the datasets, so that row
``i`` of an embedding file always means the same item:

* a text file: row ``i`` is line ``i + 1`` (:func:`read_text_items`);
* an image folder: every image below it, recursively, in the order of their relative paths
  compared part by part (:func:`list_images`), which is also the order of
  ``folder/<class>/<file>`` datasets with classes sorted by name. Hidden files and folders
  (names starting with ``.``) are skipped.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["IMAGE_EXTENSIONS", "read_text_items", "list_images"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def read_text_items(path, limit: int | None = None) -> list[str]:
    """One item per line of a UTF-8 text file.

    A blank line inside the file is refused with its number (dropping it would shift every later
    row and pair parallel files wrongly); blank lines at the very end are ignored.

    Parameters
    ----------
    path : str or Path
        The text file.
    limit : int, optional
        Keep only the first ``limit`` lines.

    Returns
    -------
    list of str
        Line ``i + 1`` of the file is item ``i``.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: no such text file (one item per line)")
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{p}: is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ValueError(f"{p}: has no non-empty lines")
    blank = [i + 1 for i, ln in enumerate(lines) if not ln.strip()]
    if blank:
        more = f" (and {len(blank) - 1} more)" if len(blank) > 1 else ""
        raise ValueError(f"{p}: line {blank[0]} is blank{more}; every line is one item (row i = line i), so fill "
                         "or remove blank lines in this file and in any file paired with it")
    return lines[:limit] if limit else lines


def list_images(folder, limit: int | None = None) -> list[str]:
    """Every image file below ``folder`` (recursively), in row order.

    Parameters
    ----------
    folder : str or Path
        The image folder; subfolders (one per class, or any other layout) are searched too.
    limit : int, optional
        Keep only the first ``limit`` images.

    Returns
    -------
    list of str
        Paths sorted by their parts relative to ``folder`` (``a/x.jpg`` < ``a-b/x.jpg``, like
        sorting class folders by name and then files by name).
    """
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"{root}: no such image folder")
    files = [f for f in root.rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file()
             and not any(part.startswith(".") for part in f.relative_to(root).parts)]
    if not files:
        raise ValueError(f"{root}: contains no images ({', '.join(IMAGE_EXTENSIONS)})")
    files.sort(key=lambda f: f.relative_to(root).parts)
    return [str(f) for f in (files[:limit] if limit else files)]
