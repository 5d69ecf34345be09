"""driftrec's streaming layer: the Faust app, agents, topics, web views, local broker and CLI."""
