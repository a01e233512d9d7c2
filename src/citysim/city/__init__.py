"""The city: geography, road network, traffic state, crashes, routing and police travel."""
