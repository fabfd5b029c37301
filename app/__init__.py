"""paindiary: a REST service for chronic-pain diaries and treatment-course trends."""
