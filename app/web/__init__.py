"""The web app at ``/app/`` (contract §9): static ES modules, CSS, a manifest and a service
worker, served from the installed package (no CDN, no build step), built only on the API."""
