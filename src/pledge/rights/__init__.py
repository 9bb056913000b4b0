"""Data subject rights: requests, their deadlines, verification, the state machine and response packages."""
