/**
 * The document GraphiQL opens with (on a browser that has no GraphiQL tabs stored yet): a query
 * that runs as it is, on any service, and says where the first example is.
 * test/docs/doc-examples.test.ts validates it against the built schema.
 */
export const DEFAULT_QUERY = `# Cepheus: rules that run an action when an event, a schedule or a metric says so.
# Run this query with the ▶ button (or Ctrl-Enter); the Docs and Schema icons on the
# left list every query, mutation and subscription. A rule that calls a local
# receiver, step by step: README.md, "A first example".
# In KEYS mode, put {"Authorization": "Bearer YOUR_KEY"} in the Headers tab first.

{
  viewer {
    name
    role
    authMode
  }
  rules(first: 10) {
    totalCount
    edges {
      node {
        id
        name
        active
        triggerType
        actionType
      }
    }
  }
  executions(first: 5) {
    edges {
      node {
        id
        rule {
          name
        }
        status
        executedBy
        startedAt
        error {
          code
          message
        }
      }
    }
  }
}
`;
