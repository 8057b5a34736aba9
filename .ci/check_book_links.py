#!/usr/bin/env python3
"""Checks that every local link and anchor of the built mdBook resolves.

Usage: check_book_links.py BOOK_DIR   (the folder `mdbook build` wrote, e.g. docs/book)

For every page, each `href`/`src` that is not an outside URL must name a file of the book,
and a `#fragment` must be an `id` (or `name`) on that page. Prints each broken link with the
page it is on, and exits 1 if there is any.
"""
import os
import sys
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

# Pages mdbook generates around the chapters; their links are mdbook's own.
SKIP = {"print.html", "404.html", "toc.html"}


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids = set()
        self.links = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if a.get(key):
                self.ids.add(a[key])
        for key in ("href", "src"):
            if a.get(key) is not None:
                self.links.append((tag, a[key]))


def parse(path, cache):
    if path not in cache:
        p = Page()
        with open(path, encoding="utf-8") as f:
            p.feed(f.read())
        cache[path] = p
    return cache[path]


def main(book):
    cache, broken, checked = {}, [], 0
    for folder, _, files in os.walk(book):
        for name in sorted(files):
            if not name.endswith(".html") or name in SKIP:
                continue
            page = os.path.join(folder, name)
            for tag, link in parse(page, cache).links:
                url = urlsplit(link)
                if url.scheme or link.startswith("//") or link.startswith("javascript:"):
                    continue
                checked += 1
                target = page
                if url.path:
                    target = os.path.normpath(os.path.join(folder, unquote(url.path)))
                    if os.path.isdir(target):
                        target = os.path.join(target, "index.html")
                rel = os.path.relpath(page, book)
                if not os.path.isfile(target):
                    broken.append(f"{rel}: <{tag}> {link}: no such file")
                    continue
                if url.fragment and target.endswith(".html"):
                    if unquote(url.fragment) not in parse(target, cache).ids:
                        broken.append(f"{rel}: <{tag}> {link}: no anchor #{url.fragment}")
    for b in broken:
        print("broken link:", b)
    print(f"book links: {checked} local links checked, {len(broken)} broken")
    return 1 if broken or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/book"))
