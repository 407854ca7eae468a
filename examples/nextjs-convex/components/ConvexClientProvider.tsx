"use client";

import { ReactNode, useCallback, useRef, useState } from "react";
import { ConvexReactClient, ConvexProviderWithAuth } from "convex/react";
import { AuthKitProvider, useAuth, useAccessToken } from "@workos-inc/authkit-nextjs/components";

export function ConvexClientProvider({ children, expectAuth }: { children: ReactNode; expectAuth: boolean }) {
  const [convex] = useState(() => new ConvexReactClient(process.env.NEXT_PUBLIC_CONVEX_URL!, { expectAuth }));
  return (
    <AuthKitProvider>
      <ConvexProviderWithAuth client={convex} useAuth={useAuthFromAuthKit}>
        {children}
      </ConvexProviderWithAuth>
    </AuthKitProvider>
  );
}

// Convex asks for the access token through this hook; AuthKit keeps the token fresh itself.
function useAuthFromAuthKit() {
  const { user, loading: isLoading } = useAuth();
  const { accessToken, loading: tokenLoading, error: tokenError } = useAccessToken();
  const hasIncompleteAuth = (!!user && !accessToken) || (!user && !!accessToken);
  const loading = (isLoading ?? false) || (tokenLoading ?? false) || hasIncompleteAuth;
  const authenticated = !!user && !!accessToken;

  const stableAccessToken = useRef<string | null>(null);
  if (accessToken && !tokenError) {
    stableAccessToken.current = accessToken;
  }

  const fetchAccessToken = useCallback(async () => {
    if (stableAccessToken.current && !tokenError) {
      return stableAccessToken.current;
    }
    return null;
  }, [tokenError]);

  return { isLoading: loading, isAuthenticated: authenticated, fetchAccessToken };
}
