"""The 110 police service: demand, call centre, dispatch policies, fleet and roster."""
