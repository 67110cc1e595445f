"""HTTP routes, one ``APIRouter`` per door; thin: they read the request and call the service."""
