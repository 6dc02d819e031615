#!/usr/bin/python3
"""Every screenshot the AppStream metainfo names is in docs/screenshots/, is a
PNG of a whole window (at least 1000x700) and has a caption.

Usage: check-metainfo-screenshots.py METAINFO.xml SOURCE_ROOT"""
import struct
import sys
import xml.etree.ElementTree as ET

metainfo, root = sys.argv[1], sys.argv[2]
shots = ET.parse(metainfo).getroot().findall('./screenshots/screenshot')
assert len(shots) >= 2, f'{len(shots)} screenshots in {metainfo}'
assert sum(s.get('type') == 'default' for s in shots) == 1, 'exactly one default screenshot'
for shot in shots:
    url = shot.find('image').text.strip()
    caption = shot.find('caption')
    assert caption is not None and caption.text.strip(), f'{url} has no caption'
    marker = '/docs/screenshots/'
    assert marker in url, f'{url} is not under docs/screenshots'
    path = f'{root}/docs/screenshots/{url.split(marker, 1)[1]}'
    with open(path, 'rb') as f:
        head = f.read(24)
    assert head[:8] == b'\x89PNG\r\n\x1a\n', f'{path} is not a PNG'
    width, height = struct.unpack('>II', head[16:24])
    assert width >= 1000 and height >= 700, f'{path} is {width}x{height}'
    print(f'ok {path} {width}x{height}: {caption.text.strip()}')
