"""The Wall: the big screen, rollups, notices to people on deck and story arcs. Above
`triage` and `playbooks`: it may import every app but `room`."""
