"use client";

import { ReactNode, useCallback, useState } from "react";
import { ConvexReactClient, ConvexProviderWithAuth } from "convex/react";
import { AuthKitProvider, useAuth, useAccessToken } from "@workos-inc/authkit-nextjs/components";

export function ConvexClientProvider({ children, expectAuth }: { children: ReactNode; expectAuth?: boolean }) {
  const [convex] = useState(() => new ConvexReactClient(process.env.NEXT_PUBLIC_CONVEX_URL!, { expectAuth }));
  return (
    <AuthKitProvider>
      <ConvexProviderWithAuth client={convex} useAuth={useAuthFromAuthKit}>
        {children}
      </ConvexProviderWithAuth>
    </AuthKitProvider>
  );
}

// Convex asks for a token when it connects (forceRefreshToken false: AuthKit's current token, refreshed
// first if it is expiring) and again shortly before that token expires or when the backend rejects it
// (forceRefreshToken true: a new token from AuthKit's refresh).
function useAuthFromAuthKit() {
  const { user, loading } = useAuth();
  const { accessToken, getAccessToken, refresh } = useAccessToken();

  const hasIncompleteAuth = (!!user && !accessToken) || (!user && !!accessToken);
  const isLoading = loading || hasIncompleteAuth;
  const authenticated = !!user && !!accessToken;

  const fetchAccessToken = useCallback(
    async ({ forceRefreshToken }: { forceRefreshToken?: boolean } = {}): Promise<string | null> => {
      if (!user) {
        return null;
      }
      try {
        if (forceRefreshToken) {
          return (await refresh()) ?? null;
        }
        return (await getAccessToken()) ?? null;
      } catch (error) {
        console.error("Failed to get access token:", error);
        return null;
      }
    },
    [user, refresh, getAccessToken],
  );

  return { isLoading, isAuthenticated: authenticated, fetchAccessToken };
}
