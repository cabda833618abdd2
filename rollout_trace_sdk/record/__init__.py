"""Hot path: recorder handles, snapshotting and the background bundle writer."""
