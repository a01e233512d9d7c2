"""Degrees to km on the Earth's surface, and how far from a scenario's centre a coordinate may lie."""

KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON_EQUATOR = 111.320
#: Every coordinate of a scenario must lie this close to the districts' centre (a typo guard).
REGION_KM = 200.0
