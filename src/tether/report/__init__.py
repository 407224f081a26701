"""Pull-request reports: the Markdown body (``tether report``) and the one
GitHub comment that carries it, updated in place (``tether comment``)."""
