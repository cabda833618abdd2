"""Looking at a reduced rollout: an HTML viewer (static page or local server) and a terminal
transcript. Reducer side only: nothing here imports the recorder."""
