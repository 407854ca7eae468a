import Link from "next/link";
import { withAuth } from "@workos-inc/authkit-nextjs";
import { fetchQuery } from "convex/nextjs";
import { api } from "../../convex/_generated/api";

// Outside the middleware's unauthenticatedPaths: signed-out visitors are sent to sign in before this renders.
export default async function ServerPage() {
  const { user, accessToken } = await withAuth({ ensureSignedIn: true });
  const data = await fetchQuery(api.myFunctions.listNumbers, { count: 3 }, { token: accessToken });

  return (
    <main>
      <h1>Convex + Next.js</h1>
      <p id="server-user">Signed in as {user.email} (rendered on the server by withAuth)</p>
      <div className="panel">
        <h2>Non-reactive server-loaded data</h2>
        <pre>{JSON.stringify(data, null, 2)}</pre>
      </div>
      <p>
        <Link href="/">Back to the numbers</Link>
      </p>
    </main>
  );
}
