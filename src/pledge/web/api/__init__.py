"""The JSON API. Errors are RFC 9457 problem details (see ``pledge.web.problems``)."""
