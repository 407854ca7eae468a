"use client";

import Link from "next/link";
import { Authenticated, Unauthenticated, useMutation, useQuery } from "convex/react";
import { useAuth } from "@workos-inc/authkit-nextjs/components";
import type { User } from "@workos-inc/node";
import { api } from "../convex/_generated/api";

export default function Home() {
  const { user, impersonator, signOut } = useAuth();

  return (
    <>
      <header>
        Convex + Next.js + WorkOS
        {user && <UserMenu user={user} impersonatorEmail={impersonator?.email} onSignOut={signOut} />}
      </header>
      <main>
        <h1>Convex + Next.js + WorkOS</h1>
        <Authenticated>
          <Content />
        </Authenticated>
        <Unauthenticated>
          <SignInForm />
        </Unauthenticated>
      </main>
    </>
  );
}

function SignInForm() {
  return (
    <div className="stack narrow">
      <p>Log in to see the numbers</p>
      <Link href="/sign-in">
        <button>Sign in</button>
      </Link>
      <Link href="/sign-up">
        <button>Sign up</button>
      </Link>
    </div>
  );
}

function Content() {
  const { viewer, numbers } = useQuery(api.myFunctions.listNumbers, { count: 10 }) ?? {};
  const addNumber = useMutation(api.myFunctions.addNumber);

  if (viewer === undefined || numbers === undefined) {
    return <div className="stack"></div>;
  }

  return (
    <div className="stack">
      <p>Welcome {viewer ?? "Anonymous"}!</p>
      <p>Click the button below and open this page in another window - this data is persisted in the Convex database!</p>
      <p>
        <button onClick={() => void addNumber({ value: Math.floor(Math.random() * 10) })}>Add a random number</button>
      </p>
      <p>Numbers: {numbers?.length === 0 ? "Click the button!" : (numbers?.join(", ") ?? "...")}</p>
      <p>
        See the <Link href="/server">/server route</Link> for an example of loading data in a server component
      </p>
    </div>
  );
}

function UserMenu({
  user,
  impersonatorEmail,
  onSignOut,
}: {
  user: User;
  impersonatorEmail?: string;
  onSignOut: () => void;
}) {
  return (
    <div className="user-menu">
      <span>{user.email}</span>
      {impersonatorEmail && <span className="impersonator">impersonated by {impersonatorEmail}</span>}
      <button className="danger" onClick={onSignOut}>
        Sign out
      </button>
    </div>
  );
}
